import assert from "node:assert/strict";
import * as net from "node:net";
import { canonicalIp, isIP, isIPv4, isIPv6 } from "./_ip.ts";

const EDGES = [
  "",
  ".",
  ":",
  "::",
  ":::",
  "::1",
  "1::",
  "1:",
  ":1",
  "1::2::3",
  "::1:",
  "127.0.0.1",
  "0.0.0.0",
  "255.255.255.255",
  "256.1.1.1",
  "01.1.1.1",
  "1.1.1",
  "1.1.1.1.1",
  "1..1.1",
  "1.1.1.1 ",
  " 1.1.1.1",
  "+1.1.1.1",
  "1e1.1.1.1",
  "0x1.1.1.1",
  "localhost",
  "example.com",
  "[::1]",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7",
  "1:2:3:4:5:6:7::",
  "::1:2:3:4:5:6:7",
  "1:2:3:4:5:6::8",
  "::ffff:127.0.0.1",
  "::127.0.0.1",
  "1:2:3:4:5:6:1.2.3.4",
  "1:2:3:4:5:6:7:1.2.3.4",
  "1::1.2.3.4",
  "1.2.3.4::",
  "::1.2.3.4:1",
  "fe80::1%eth0",
  "fe80::1%",
  "fe80::1%a b",
  "1.2.3.4%eth0",
  "FFFF::",
  "ffff::g",
  "12345::",
  "::ffff:1.2.3",
  "1:2:3:4:5::7:8",
  "1::2:3:4:5:6:7",
  "::2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7::",
  "::%1",
  "a:b:c:d:e:f:0:1%x.y:z-1",
];

/** Random strings over the characters addresses are made of. */
function randomCandidates(count: number): string[] {
  const alphabet = "0123456789abcdefABCDEF.:%xg";
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let s = "";
    const length = 1 + Math.floor(Math.random() * 24);
    for (let j = 0; j < length; j++) {
      s += alphabet[Math.floor(Math.random() * alphabet.length)];
    }
    out.push(s);
  }
  return out;
}

/** Mutations of valid addresses: near misses are where parsers differ. */
function nearMisses(): string[] {
  const valid = [
    "::1",
    "fe80::1:2",
    "1:2:3:4:5:6:7:8",
    "::ffff:10.0.0.1",
    "10.0.0.1",
  ];
  const out: string[] = [];
  for (const v of valid) {
    for (let i = 0; i <= v.length; i++) {
      for (const c of [":", ".", "0", "f", "::"]) {
        out.push(v.slice(0, i) + c + v.slice(i));
      }
      out.push(v.slice(0, i) + v.slice(i + 1));
    }
  }
  return out;
}

Deno.test("isIP, isIPv4 and isIPv6 agree with node:net on edge cases, near misses and random strings", () => {
  for (const text of [...EDGES, ...nearMisses(), ...randomCandidates(20000)]) {
    assert.equal(
      isIPv4(text),
      net.isIPv4(text),
      `isIPv4(${JSON.stringify(text)})`,
    );
    assert.equal(
      isIPv6(text),
      net.isIPv6(text),
      `isIPv6(${JSON.stringify(text)})`,
    );
    assert.equal(isIP(text), net.isIP(text), `isIP(${JSON.stringify(text)})`);
  }
});

Deno.test("canonicalIp: one text per address, as RFC 5952 and IPv4 for mapped addresses", () => {
  const cases: [string, string][] = [
    ["192.0.2.7", "192.0.2.7"],
    ["::ffff:192.0.2.7", "192.0.2.7"],
    ["::FFFF:C000:207", "192.0.2.7"],
    ["0:0:0:0:0:ffff:c000:0207", "192.0.2.7"],
    ["2001:DB8:0:0:0:0:0:01", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first longest run
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a lone zero stays
    ["::", "::"],
    ["::1", "::1"],
    ["fe80::1%eth0", "fe80::1"],
    ["0:0:0:0:0:0:1.2.3.4", "::102:304"],
    ["localhost", "localhost"],
  ];
  for (const [text, canonical] of cases) {
    assert.equal(canonicalIp(text), canonical, text);
    if (isIP(text)) assert.equal(canonicalIp(canonical), canonical);
  }
});
