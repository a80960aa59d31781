/**
 * The library's one dependency, LogTape, named in full so that the library
 * resolves without an import map: imported by path, from a URL or a git
 * submodule, it needs no configuration of its importer.
 *
 * @module
 */

export { getConfig, getLogger } from "npm:@logtape/logtape@^2.4.2";
