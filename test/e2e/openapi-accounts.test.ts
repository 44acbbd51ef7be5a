import { describe, expect, it } from "vitest";
import { api, uniqueName } from "./client";

/** The account endpoints' responses, checked against the spec's OpenAPI schemas (MATRIX_SPEC_DIR). */
describe("account endpoints match the OpenAPI definitions", () => {
  it("discovery, registration, login, tokens, devices and profile", async () => {
    expect((await api("GET", "/_matrix/client/versions")).status).toBe(200);
    expect((await api("GET", "/.well-known/matrix/client")).status).toBe(200);
    expect((await api("GET", "/_matrix/client/v3/login")).status).toBe(200);

    const username = uniqueName("oas");
    const password = "open api password";
    const challenge = await api("POST", "/_matrix/client/v3/register", { body: { username, password } });
    expect(challenge.status).toBe(401);
    const registered = await api("POST", "/_matrix/client/v3/register", {
      body: { username, password, auth: { type: "m.login.dummy", session: challenge.body["session"] } },
    });
    expect(registered.status).toBe(200);
    expect((await api("GET", `/_matrix/client/v3/register/available?username=${username}`)).status).toBe(400);
    expect((await api("GET", `/_matrix/client/v3/register/available?username=${uniqueName("free")}`)).status).toBe(200);

    const badLogin = await api("POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: username }, password: "wrong" },
    });
    expect(badLogin.status).toBe(403);
    const login = await api("POST", "/_matrix/client/v3/login", {
      body: { type: "m.login.password", identifier: { type: "m.id.user", user: username }, password, refresh_token: true },
    });
    expect(login.status).toBe(200);
    let token = login.body["access_token"] as string;

    expect((await api("GET", "/_matrix/client/v3/account/whoami", { token })).status).toBe(200);
    expect((await api("GET", "/_matrix/client/v3/capabilities", { token })).status).toBe(200);
    const refreshed = await api("POST", "/_matrix/client/v3/refresh", { body: { refresh_token: login.body["refresh_token"] } });
    expect(refreshed.status).toBe(200);
    token = refreshed.body["access_token"] as string;

    expect((await api("GET", "/_matrix/client/v3/devices", { token })).status).toBe(200);
    const deviceId = login.body["device_id"] as string;
    expect((await api("GET", `/_matrix/client/v3/devices/${deviceId}`, { token })).status).toBe(200);
    expect((await api("PUT", `/_matrix/client/v3/devices/${deviceId}`, { token, body: { display_name: "OAS" } })).status).toBe(200);

    const userId = encodeURIComponent(login.body["user_id"] as string);
    expect((await api("PUT", `/_matrix/client/v3/profile/${userId}/displayname`, { token, body: { displayname: "O. A. S." } })).status).toBe(200);
    expect((await api("GET", `/_matrix/client/v3/profile/${userId}`)).status).toBe(200);
    expect((await api("GET", `/_matrix/client/v3/profile/${userId}/displayname`)).status).toBe(200);

    const deleteChallenge = await api("POST", "/_matrix/client/v3/delete_devices", { token, body: { devices: [] } });
    expect(deleteChallenge.status).toBe(401);
    expect((await api("POST", "/_matrix/client/v3/logout", { token })).status).toBe(200);
    expect((await api("GET", "/_matrix/client/v3/account/whoami", { token })).status).toBe(401);
  });
});
