// Tokens sealed at rest: round trip, fresh IVs, and clear failures for tampering, a wrong key or no key.
import { describe, expect, it } from "vitest";
import { openToken, sealToken } from "../secrets";

const env = { BRIDGE_SECRET_KEY: "k".repeat(32) };
const other = { BRIDGE_SECRET_KEY: "o".repeat(32) };

describe("sealed tokens", () => {
  it("round trip, versioned v1.<iv>.<ciphertext> in base64url", async () => {
    const sealed = await sealToken(env, "xoxb-123-secret ✓");
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("xoxb");
    expect(await openToken(env, sealed)).toBe("xoxb-123-secret ✓");
  });

  it("a different IV (and ciphertext) each time", async () => {
    const [a, b] = [await sealToken(env, "same"), await sealToken(env, "same")];
    expect(a.split(".")[1]).not.toBe(b.split(".")[1]);
    expect(a.split(".")[2]).not.toBe(b.split(".")[2]);
  });

  it("a tampered ciphertext, IV or version is refused", async () => {
    const sealed = await sealToken(env, "token");
    const [, iv, ct] = sealed.split(".") as [string, string, string];
    const flip = (s: string) => (s[0] === "A" ? "B" : "A") + s.slice(1);
    await expect(openToken(env, `v1.${iv}.${flip(ct)}`)).rejects.toThrow("Sealed token cannot be opened: it was tampered with, or BRIDGE_SECRET_KEY changed");
    await expect(openToken(env, `v1.${flip(iv)}.${ct}`)).rejects.toThrow("tampered with");
    await expect(openToken(env, `v2.${iv}.${ct}`)).rejects.toThrow("Not a sealed v1 token");
    await expect(openToken(env, "plain-token")).rejects.toThrow("Not a sealed v1 token");
  });

  it("another key cannot open it", async () => {
    await expect(openToken(other, await sealToken(env, "token"))).rejects.toThrow("BRIDGE_SECRET_KEY changed");
  });

  it("a missing or short secret is named", async () => {
    await expect(sealToken({}, "t")).rejects.toThrow("BRIDGE_SECRET_KEY is not set: set a Worker secret of at least 32 characters");
    await expect(openToken({ BRIDGE_SECRET_KEY: "short" }, "v1.a.b")).rejects.toThrow("BRIDGE_SECRET_KEY is too short");
  });
});
