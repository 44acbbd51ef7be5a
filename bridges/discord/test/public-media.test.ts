import { describe, expect, it } from "vitest";
import { isSignedAvatar, publicAvatarUrl } from "../public-media";

const env = { BRIDGE_SECRET_KEY: "a unit-test key of at least thirty-two characters", PUBLIC_BASEURL: "https://hs.test/" };

describe("public avatar URLs for Discord webhooks", () => {
  it("signs an mxc avatar into a bridge URL whose signature verifies for that media only", async () => {
    const url = await publicAvatarUrl(env, "mxc://hs.test/AbC_123");
    const m = /^https:\/\/hs\.test\/_bridges\/discord\/avatar\/hs\.test\/AbC_123\/([A-Za-z0-9_-]+)$/.exec(url ?? "");
    expect(m).not.toBeNull();
    const sig = m![1]!;
    expect(await isSignedAvatar(env, "hs.test", "AbC_123", sig)).toBe(true);
    expect(await isSignedAvatar(env, "hs.test", "Other", sig)).toBe(false);
    expect(await isSignedAvatar({ ...env, BRIDGE_SECRET_KEY: "another key of at least thirty-two characters!" }, "hs.test", "AbC_123", sig)).toBe(false);
  });

  it("gives none without an avatar, for a malformed URI, or without the secret", async () => {
    expect(await publicAvatarUrl(env, undefined)).toBeUndefined();
    expect(await publicAvatarUrl(env, "https://elsewhere/a.png")).toBeUndefined();
    expect(await publicAvatarUrl({ ...env, BRIDGE_SECRET_KEY: undefined }, "mxc://hs.test/AbC")).toBeUndefined();
  });
});
