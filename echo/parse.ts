/**
 * Reading flag values: ports, seconds, counts and choices, each with a
 * {@linkcode UsageError} that names the flag.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

/**
 * Reads a port: a whole number from 0 to 65535.
 *
 * @example
 * ```ts
 * import { parsePort } from "./parse.ts";
 *
 * parsePort("10000"); // 10000
 * ```
 *
 * @throws {UsageError} otherwise.
 */
export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(
      `--port must be a whole number from 0 to 65535, got '${text}'`,
    );
  }
  return Number(text);
}

/**
 * Reads a number of seconds: a finite number >= 0.
 *
 * @example
 * ```ts
 * import { parseSeconds } from "./parse.ts";
 *
 * parseSeconds("--timeout", "2.5"); // 2.5
 * ```
 *
 * @throws {UsageError} otherwise.
 */
export function parseSeconds(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new UsageError(
      `${flag} must be a number of seconds >= 0, got '${text}'`,
    );
  }
  return value;
}

/**
 * Reads a whole number from `min` up.
 *
 * @example
 * ```ts
 * import { parseCount } from "./parse.ts";
 *
 * parseCount("--max-connections", "10", 1); // 10
 * ```
 *
 * @throws {UsageError} otherwise.
 */
export function parseCount(flag: string, text: string, min = 0): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(
      `${flag} must be a whole number >= ${min}, got '${text}'`,
    );
  }
  return value;
}

/**
 * Reads one of `choices`.
 *
 * @example
 * ```ts
 * import { parseChoice } from "./parse.ts";
 *
 * parseChoice("--log-format", "json", ["text", "json"]); // "json"
 * ```
 *
 * @throws {UsageError} otherwise.
 */
export function parseChoice<T extends string>(
  flag: string,
  text: string,
  choices: readonly T[],
): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(
      `${flag} must be one of ${choices.join(", ")}, got '${text}'`,
    );
  }
  return text as T;
}
