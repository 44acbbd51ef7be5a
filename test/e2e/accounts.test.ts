import { describe, expect, it } from "vitest";
import { createClient, MatrixError } from "matrix-js-sdk";
import { anonymousClient, baseUrl, registeredClient, uniqueName } from "./client";

describe("accounts with matrix-js-sdk, as Element drives them", () => {
  it("discovers the server and its login flows", async () => {
    const anon = anonymousClient();
    const versions = await anon.getVersions();
    expect(versions.versions).toContain("v1.1");
    const flows = await anon.loginFlows();
    expect(flows.flows.map((f) => f.type)).toContain("m.login.password");
    expect(await anon.isUsernameAvailable(uniqueName("free"))).toBe(true);
  });

  it("registers, logs in with a refresh token, refreshes, and logs out", async () => {
    const { client: registered, username, password } = await registeredClient("e2e");
    expect((await registered.whoami()).user_id).toBe(`@${username}:localhost`);

    const anon = anonymousClient();
    const login = await anon.loginRequest({
      type: "m.login.password",
      identifier: { type: "m.id.user", user: username },
      password,
      initial_device_display_name: "e2e device",
      refresh_token: true,
    });
    expect(login.refresh_token).toBeTruthy();
    expect(login.expires_in_ms).toBeGreaterThan(0);

    const client = createClient({ baseUrl: baseUrl(), accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
    const who = await client.whoami();
    expect(who).toMatchObject({ user_id: login.user_id, device_id: login.device_id });

    const refreshed = await client.refreshToken(login.refresh_token!);
    expect(refreshed.access_token).not.toBe(login.access_token);
    client.setAccessToken(refreshed.access_token);
    expect((await client.whoami()).device_id).toBe(login.device_id);

    const devices = await client.getDevices();
    expect(devices.devices.find((d) => d.device_id === login.device_id)?.display_name).toBe("e2e device");

    await client.setDisplayName("E2E Person");
    expect((await client.getProfileInfo(login.user_id)).displayname).toBe("E2E Person");

    await client.logout(true);
    const stale = createClient({ baseUrl: baseUrl(), accessToken: refreshed.access_token, userId: login.user_id });
    const err = await stale.whoami().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MatrixError);
    expect((err as MatrixError).errcode).toBe("M_UNKNOWN_TOKEN");
  });

  it("reports a wrong password as M_FORBIDDEN", async () => {
    const { username } = await registeredClient("wrongpw");
    const err = await anonymousClient()
      .loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: username }, password: "nope" })
      .catch((e: unknown) => e);
    expect((err as MatrixError).errcode).toBe("M_FORBIDDEN");
    expect((err as MatrixError).httpStatus).toBe(403);
  });
});
