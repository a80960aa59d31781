import assert from "node:assert/strict";
import { AddressRanges } from "./address_ranges.ts";

Deno.test("AddressRanges: IPv4 and IPv6 ranges and single addresses", () => {
  const ranges = new AddressRanges([
    "10.0.0.0/8",
    "192.168.1.7",
    "2001:db8::/32",
    "::1",
  ]);
  const inside = ["10.0.0.1", "10.255.255.255", "192.168.1.7", "2001:db8::5"];
  const outside = ["11.0.0.0", "192.168.1.8", "2001:db9::", "::2", "x", ""];
  for (const address of inside) assert.ok(ranges.has(address), address);
  for (const address of outside) assert.ok(!ranges.has(address), address);
  // An IPv4-mapped IPv6 address is the IPv4 address.
  assert.ok(ranges.has("::ffff:10.1.2.3"));
  assert.ok(new AddressRanges(["0.0.0.0/0"]).has("203.0.113.9"));
  assert.ok(!new AddressRanges([]).has("127.0.0.1"));
});

Deno.test("AddressRanges: a range that does not parse is a RangeError naming it", () => {
  for (
    const bad of ["10.0.0.0/33", "::/129", "10.0.0.0/8/8", "ten", "1.2.3.4/x"]
  ) {
    assert.throws(
      () => new AddressRanges([bad]),
      (error: Error) =>
        error instanceof RangeError && error.message.includes(`'${bad}'`),
    );
  }
});
