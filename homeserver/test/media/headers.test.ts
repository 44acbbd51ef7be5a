import { describe, expect, it } from "vitest";
import { isPrivateHost } from "../../src/media/address";
import { contentDisposition, normaliseContentType, parseRange } from "../../src/media/headers";
import { isValidMediaId, isValidServerName, newMediaId } from "../../src/media/ids";

describe("parseRange", () => {
  it("takes one byte range in each of its three forms", () => {
    expect(parseRange("bytes=0-0", 10)).toEqual({ offset: 0, length: 1 });
    expect(parseRange("bytes=2-", 10)).toEqual({ offset: 2, length: 8 });
    expect(parseRange("bytes=-3", 10)).toEqual({ offset: 7, length: 3 });
    expect(parseRange("bytes=5-100", 10)).toEqual({ offset: 5, length: 5 });
    expect(parseRange("bytes=-100", 10)).toEqual({ offset: 0, length: 10 });
  });

  it("is unsatisfiable past the end, and ignored when absent, malformed or multiple", () => {
    expect(parseRange("bytes=10-", 10)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 10)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
    expect(parseRange(undefined, 10)).toBeNull();
    expect(parseRange("bytes=5-2", 10)).toBeNull();
    expect(parseRange("bytes=0-1,4-5", 10)).toBeNull();
    expect(parseRange("items=0-1", 10)).toBeNull();
    expect(parseRange("bytes=-", 10)).toBeNull();
  });
});

describe("contentDisposition", () => {
  it("is inline only for the spec's safe types, whatever the parameters or case", () => {
    expect(contentDisposition("image/PNG", null)).toBe("inline");
    expect(contentDisposition("text/plain; charset=utf-8", "a.txt")).toBe('inline; filename="a.txt"');
    expect(contentDisposition("image/svg+xml", "x.svg")).toBe('attachment; filename="x.svg"');
    expect(contentDisposition("text/html", null)).toBe("attachment");
    expect(contentDisposition("application/octet-stream", null)).toBe("attachment");
  });

  it("encodes names that are not plain ASCII per RFC 6266 / RFC 8187", () => {
    expect(contentDisposition("application/pdf", "日本.pdf")).toBe(`attachment; filename="__.pdf"; filename*=utf-8''%E6%97%A5%E6%9C%AC.pdf`);
    expect(contentDisposition("application/pdf", "it's (1).pdf")).toBe(`attachment; filename="it's (1).pdf"`);
    expect(contentDisposition("application/pdf", 'a"b\\c')).toBe(`attachment; filename="a_b_c"; filename*=utf-8''a%22b%5Cc`);
    expect(contentDisposition("application/pdf", "line\r\nbreak")).toBe(`attachment; filename="line__break"; filename*=utf-8''line%0D%0Abreak`);
  });

  it("stores only well-formed content types", () => {
    expect(normaliseContentType("image/png")).toBe("image/png");
    expect(normaliseContentType("text/plain; charset=utf-8")).toBe("text/plain; charset=utf-8");
    expect(normaliseContentType(undefined)).toBe("application/octet-stream");
    expect(normaliseContentType("nonsense")).toBe("application/octet-stream");
  });
});

describe("media ids and server names", () => {
  it("makes 24-character URL-safe ids that differ", () => {
    const ids = new Set(Array.from({ length: 100 }, newMediaId));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
  });

  it("accepts only the spec's alphabets", () => {
    expect(isValidMediaId("abc_DEF-123")).toBe(true);
    for (const bad of ["", "../etc", "a.b", "a/b", "a%2F", "é"]) expect(isValidMediaId(bad)).toBe(false);
    for (const good of ["example.org", "localhost:8787", "1.2.3.4:80", "[::1]:8448"]) expect(isValidServerName(good)).toBe(true);
    for (const bad of ["", "a b", "host:99999", "host:", "a/b", "[zz]"]) expect(isValidServerName(bad)).toBe(false);
  });
});

describe("isPrivateHost", () => {
  it("refuses loopback, private, link-local and local names", () => {
    for (const host of ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
      "[::1]", "[::]", "[fd00::1]", "[fe80::1]", "[::ffff:7f00:1]", "localhost", "foo.localhost", "printer.local", "intranet"]) {
      expect(isPrivateHost(host), host).toBe(true);
    }
  });

  it("allows public names and addresses", () => {
    for (const host of ["matrix.org", "1.1.1.1", "172.32.0.1", "[2606:4700::1111]", "[::ffff:101:101]"]) expect(isPrivateHost(host), host).toBe(false);
  });

  it("sees through the URL parser's normalisation of odd IPv4 spellings", () => {
    expect(isPrivateHost(new URL("http://2130706433/").hostname)).toBe(true);
    expect(isPrivateHost(new URL("http://0x7f.1/").hostname)).toBe(true);
    expect(isPrivateHost(new URL("http://[::ffff:127.0.0.1]/").hostname)).toBe(true);
  });
});
