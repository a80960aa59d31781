/**
 * Reporting an error that no caller can catch (a protocol callback that
 * threw): through LogTape with its stack when logging is configured, and
 * straight to standard error otherwise, as Python's logging does with no
 * handler, so that a protocol's bug is never silent.
 *
 * @module
 */

import { withLogTape } from "./_log.ts";

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
  withLogTape((logtape) => {
    if (logtape === null || logtape.getConfig() === null) {
      console.error(`protocols: ${fill(message, properties)}\n${stack}`);
      return;
    }
    logtape.getLogger(["protocols"]).error(`${message}\n{stack}`, {
      ...properties,
      stack,
    });
  });
}
