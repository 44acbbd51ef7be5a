import { describe, expect, it } from "vitest";
import { CanonicalJsonError, canonicalJson, canonicalJsonBytes } from "../../src/rooms/canonical-json";

describe("canonical JSON: the spec's examples (appendices, Canonical JSON > Examples)", () => {
  // Each input is the spec's JSON text, parsed, so whitespace and escapes in it are exercised too.
  const examples: [input: string, canonical: string][] = [
    ["{}", "{}"],
    ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
    ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
    ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
    [
      `{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                { "medium": "email", "address": "john.doe@example.org" },
                { "medium": "msisdn", "address": "123456789" }
            ]
        }
    }
}`,
      '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ],
    ['{\n    "a": "日本語"\n}', '{"a":"日本語"}'],
    ['{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'],
    ['{\n    "a": "\\u65E5"\n}', '{"a":"日"}'],
    ['{\n    "a": null\n}', '{"a":null}'],
    ['{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'],
  ];

  it.each(examples)("encodes %s", (input, canonical) => {
    expect(canonicalJson(JSON.parse(input))).toBe(canonical);
  });
});

describe("canonical JSON: encoding rules", () => {
  it("sorts keys by code point, putting astral characters after U+E000-U+FFFF", () => {
    // UTF-16 order would put "😀" (surrogates D83D DE00) before "\uFFFD"; code point order is U+FFFD < U+1F600.
    expect(canonicalJson({ "😀": 1, "\uFFFD": 2, Z: 3, a: 4 })).toBe('{"Z":3,"a":4,"\uFFFD":2,"😀":1}');
  });

  it("sorts keys at every depth and keeps array order", () => {
    expect(canonicalJson({ b: [{ d: 1, c: 2 }, 3, "x"], a: true })).toBe('{"a":true,"b":[{"c":2,"d":1},3,"x"]}');
  });

  it("escapes only quote, backslash and C0 controls, using the grammar's escapes", () => {
    expect(canonicalJson('"\\\b\t\n\f\r\u0000\u001f')).toBe('"\\"\\\\\\b\\t\\n\\f\\r\\u0000\\u001f"');
    expect(canonicalJson("\u007f\u2028/é")).toBe('"\u007f\u2028/é"');
  });

  it("encodes to UTF-8 bytes", () => {
    expect([...canonicalJsonBytes({ a: "é" })]).toEqual([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0xa9, 0x22, 0x7d]);
  });

  it("accepts the integer range limits", () => {
    expect(canonicalJson([2 ** 53 - 1, -(2 ** 53) + 1])).toBe("[9007199254740991,-9007199254740991]");
  });

  it.each([
    ["a fraction", 1.5],
    ["2**53", 2 ** 53],
    ["-(2**53)", -(2 ** 53)],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
  ])("rejects %s", (_name, n) => {
    expect(() => canonicalJson({ n })).toThrow(CanonicalJsonError);
  });

  it("rejects a lone surrogate in a value or a key, which UTF-8 cannot encode", () => {
    expect(() => canonicalJson({ a: "\ud800" })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ "\udc00": 1 })).toThrow(CanonicalJsonError);
  });

  it("rejects values JSON has no form for, naming where they are", () => {
    expect(() => canonicalJson({ a: [1, undefined] })).toThrow("$.a[1]");
    expect(() => canonicalJson({ a: 1n })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ a: new Date(0) })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ a: new Uint8Array(1) })).toThrow(CanonicalJsonError);
  });

  it("leaves out object members whose value is undefined, as JSON.stringify does", () => {
    expect(canonicalJson({ state_key: undefined, type: "m.room.message" })).toBe('{"type":"m.room.message"}');
  });
});
