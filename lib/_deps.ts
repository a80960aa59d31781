/**
 * The library's dependencies, LogTape and the OpenTelemetry API, named in
 * full so that the library resolves without an import map: imported by
 * path, from a URL or a git submodule, it needs no configuration of its
 * importer.
 *
 * @module
 */

export { getConfig, getLogger } from "npm:@logtape/logtape@^2.4.2";
export { metrics } from "npm:@opentelemetry/api@^1.9.0";
