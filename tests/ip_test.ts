/**
 * The one IP-literal parser (ffi/ip.ts): what is an address, what is a name.
 *
 * @module
 */

import assert from "node:assert/strict";
import { bareIp, isIpLiteral, parseIp } from "../ffi/ip.ts";

const bytes = (b: Uint8Array | null): number[] | null => b === null ? null : [...b];

Deno.test("isIpLiteral() accepts IPv4 dotted quads with every octet 0 to 255", () => {
  for (const host of ["0.0.0.0", "127.0.0.1", "192.0.2.1", "255.255.255.255", "10.0.0.255"]) {
    assert.equal(isIpLiteral(host), true, host);
  }
  assert.deepEqual(bytes(parseIp("192.0.2.10")), [192, 0, 2, 10]);
});

Deno.test("isIpLiteral() refuses IPv4 look-alikes: short, long, out of range, leading zeros, signs, spaces", () => {
  for (
    const host of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "1.2.3.999",
      "01.2.3.4",
      "1.2.3.04",
      "1.2.3.-4",
      "+1.2.3.4",
      "1..3.4",
      "1.2.3.4.",
      " 1.2.3.4",
      "1.2.3.4 ",
      "0x7f.0.0.1",
      "1.2.3.4a",
      "1e2.0.0.1",
      "[1.2.3.4]",
      "1.2.3.4%eth0",
      "１.2.3.4", // a full-width digit
    ]
  ) {
    assert.equal(isIpLiteral(host), false, JSON.stringify(host));
  }
});

Deno.test("isIpLiteral() accepts IPv6: compressed, full, embedded IPv4, brackets, zones", () => {
  const cases: [string, number[]][] = [
    ["::", new Array(16).fill(0)],
    ["::1", [...new Array(15).fill(0), 1]],
    ["[::1]", [...new Array(15).fill(0), 1]],
    ["2001:db8::1", [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]],
    ["2001:DB8:0:0:0:0:0:1", [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]],
    ["1:2:3:4:5:6:7::", [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0]],
    ["::2:3:4:5:6:7:8", [0, 0, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]],
    ["::ffff:192.0.2.1", [...new Array(10).fill(0), 0xff, 0xff, 192, 0, 2, 1]],
    ["1:2:3:4:5:6:1.2.3.4", [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 1, 2, 3, 4]],
    ["fe80::1%eth0", [0xfe, 0x80, ...new Array(13).fill(0), 1]],
    ["[fe80::1%25en0]", [0xfe, 0x80, ...new Array(13).fill(0), 1]],
  ];
  for (const [host, expected] of cases) {
    assert.equal(isIpLiteral(host), true, host);
    assert.deepEqual(bytes(parseIp(host)), expected, host);
  }
});

Deno.test("isIpLiteral() refuses IPv6 look-alikes: two '::', nine groups, long groups, stray colons, broken brackets or zones", () => {
  for (
    const host of [
      ":",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8::",
      "::1:2:3:4:5:6:7:8",
      "12345::1",
      "g::1",
      ":1::2",
      "1::2:",
      "[::1",
      "::1]",
      "[[::1]]",
      "fe80::1%",
      "fe80::1%eth 0",
      "fe80::1%eth0%1",
      "::1.2.3.4.5",
      "::256.1.1.1",
      "1.2.3.4::",
      "::ffff:1.2.3",
      "::1/128",
      "example.com",
      "localhost",
    ]
  ) {
    assert.equal(isIpLiteral(host), false, JSON.stringify(host));
  }
});

Deno.test("a value that is not a string is not an IP literal", () => {
  assert.equal(isIpLiteral(undefined as unknown as string), false);
  assert.equal(isIpLiteral(127 as unknown as string), false);
});

Deno.test("bareIp() gives OpenSSL the address without brackets or zone, and null for names", () => {
  assert.equal(bareIp("[::1]"), "::1");
  assert.equal(bareIp("[fe80::1%eth0]"), "fe80::1");
  assert.equal(bareIp("fe80::1%eth0"), "fe80::1");
  assert.equal(bareIp("127.0.0.1"), "127.0.0.1");
  assert.equal(bareIp("example.com"), null);
  assert.equal(bareIp("256.1.1.1"), null);
});
