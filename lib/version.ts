/**
 * {@linkcode VERSION}: the package's version, read from its deno.json (the
 * one place it is written).
 *
 * @module
 */

import config from "./deno.json" with { type: "json" };

/**
 * The version of `@protocols/core`, as published.
 *
 * @example
 * ```ts
 * import { VERSION } from "@protocols/core";
 *
 * console.log(`@protocols/core ${VERSION}`);
 * ```
 */
export const VERSION: string = config.version;
