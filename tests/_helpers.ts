// Helpers the programs' tests share with the library's own: the library
// keeps them (lib/_test_helpers.ts), with its recording protocol.

export * from "../lib/_test_helpers.ts";
export { RecordingProtocol as Recorder } from "../lib/testing.ts";
