/**
 * Reporting an error that no caller can catch (a protocol callback that
 * threw): through LogTape with its stack when logging is configured, and
 * straight to standard error otherwise, as Python's logging does with no
 * handler, so that a protocol's bug is never silent.
 *
 * @module
 */

import { getConfig, getLogger } from "./_deps.ts";

const log = getLogger(["protocols"]);

/** `{name}` placeholders of `message` filled in from `properties`. */
function fill(message: string, properties: Record<string, unknown>): string {
  return message.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = properties[name];
    return value instanceof Error ? value.message : String(value);
  });
}

/**
 * Logs `message` at error level with `error`'s stack after it. With no
 * LogTape configuration, writes the line and the stack to standard error.
 */
export function reportError(
  message: string,
  properties: Record<string, unknown>,
  error: Error,
): void {
  const stack = error.stack ?? `${error.name}: ${error.message}`;
  if (getConfig() === null) {
    console.error(`protocols: ${fill(message, properties)}\n${stack}`);
    return;
  }
  log.error(`${message}\n{stack}`, { ...properties, stack });
}
