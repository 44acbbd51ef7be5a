import { describe, expect, it } from "vitest";
import { callbackUrl } from "../../src/oauth/authorization-request";
import { isRegisteredRedirect, localizedName, validateClientMetadata } from "../../src/oauth/client-metadata";
import { OAuthError } from "../../src/oauth/errors";
import { isS256Challenge, verifyS256 } from "../../src/oauth/pkce";
import { parseScope } from "../../src/oauth/scope";

describe("parseScope", () => {
  it("accepts the stable and MSC2967 scopes with exactly one device", () => {
    expect(parseScope("urn:matrix:client:api:* urn:matrix:client:device:ABCDEFGHIJ")).toEqual({
      deviceId: "ABCDEFGHIJ",
      scope: "urn:matrix:client:api:* urn:matrix:client:device:ABCDEFGHIJ",
    });
    expect(parseScope("openid urn:matrix:org.matrix.msc2967.client:api:* urn:matrix:org.matrix.msc2967.client:device:x-y_z.~1").deviceId).toBe("x-y_z.~1");
  });

  it("refuses missing api access, zero or two devices, bad device ids and unknown tokens", () => {
    for (const scope of [undefined, "", "urn:matrix:client:device:A", "urn:matrix:client:api:*", "urn:matrix:client:api:* urn:matrix:client:device:A urn:matrix:client:device:B", "urn:matrix:client:api:* urn:matrix:client:device:", "urn:matrix:client:api:* urn:matrix:client:device:a:b", "urn:matrix:client:api:* urn:matrix:client:device:A email"]) {
      expect(() => parseScope(scope), String(scope)).toThrow(OAuthError);
    }
  });
});

describe("PKCE S256", () => {
  it("verifies RFC 7636 appendix B's example and refuses anything else", async () => {
    const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    expect(isS256Challenge(challenge)).toBe(true);
    expect(await verifyS256(verifier, challenge)).toBe(true);
    expect(await verifyS256(`${verifier}x`, challenge)).toBe(false);
    expect(await verifyS256(challenge, challenge)).toBe(false);
    expect(await verifyS256("short", challenge)).toBe(false);
    expect(isS256Challenge("plain-verifier")).toBe(false);
  });
});

describe("client metadata", () => {
  const native = validateClientMetadata({ client_uri: "https://example.com/", application_type: "native", redirect_uris: ["http://127.0.0.1/cb", "com.example:/cb"] });

  it("matches redirect URIs exactly, except a native loopback URI's port", () => {
    expect(isRegisteredRedirect(native, "com.example:/cb")).toBe(true);
    expect(isRegisteredRedirect(native, "http://127.0.0.1:4000/cb")).toBe(true);
    expect(isRegisteredRedirect(native, "http://127.0.0.1/cb")).toBe(true);
    expect(isRegisteredRedirect(native, "http://127.0.0.1:4000/cb2")).toBe(false);
    expect(isRegisteredRedirect(native, "http://127.0.0.1:4000/cb#x")).toBe(false);
    expect(isRegisteredRedirect(native, "http://localhost:4000/cb")).toBe(false);
    expect(isRegisteredRedirect(native, "com.example:/cb?x=1")).toBe(false);
    const web = validateClientMetadata({ client_uri: "http://localhost/", redirect_uris: ["http://localhost/cb"] });
    expect(isRegisteredRedirect(web, "http://localhost:4000/cb")).toBe(false);
  });

  it("picks a localized name from Accept-Language", () => {
    const m = validateClientMetadata({ client_uri: "https://example.com/", redirect_uris: ["https://example.com/cb"], client_name: "Mailbox", "client_name#en-GB": "Postbox" });
    expect(localizedName(m, "en-GB,en;q=0.9")).toBe("Postbox");
    expect(localizedName(m, "de")).toBe("Mailbox");
    expect(localizedName(m, undefined)).toBe("Mailbox");
  });

  it("builds callbacks in the query (keeping the registered query) or the fragment", () => {
    expect(callbackUrl("https://a.example/cb?x=1", "query", { code: "c", state: "s" })).toBe("https://a.example/cb?x=1&code=c&state=s");
    expect(callbackUrl("com.example:/cb", "query", { code: "c", state: undefined })).toBe("com.example:/cb?code=c");
    expect(callbackUrl("https://a.example/cb", "fragment", { code: "c d" })).toBe("https://a.example/cb#code=c+d");
  });
});
