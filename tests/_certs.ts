// The CA and certificates the tests make: the library's own helper.

export * from "../lib/_test_certs.ts";
