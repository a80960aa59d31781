/**
 * The library's dependency on the OpenTelemetry API, named in full so that
 * the library resolves without an import map: imported by path, from a URL
 * or a git submodule, it needs no configuration of its importer. (LogTape,
 * loaded only by a process that uses it, is named in full in `_log.ts`.)
 *
 * @module
 */

export { metrics } from "npm:@opentelemetry/api@^1.9.0";
