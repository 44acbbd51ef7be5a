import { describe, expect, it } from "vitest";
import { type TestUser, call, expectError, registerUser } from "../helpers";

const ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2";
const authData = { public_key: "abcdefg", signatures: {} };

async function createVersion(user: TestUser): Promise<string> {
  const res = await call("POST", "/_matrix/client/v3/room_keys/version", { token: user.accessToken, body: { algorithm: ALGORITHM, auth_data: authData } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body["version"] as string;
}

const sessionKey = (firstMessageIndex: number, forwardedCount: number, isVerified: boolean, tag: string) => ({
  first_message_index: firstMessageIndex,
  forwarded_count: forwardedCount,
  is_verified: isVerified,
  session_data: { ephemeral: tag, ciphertext: tag, mac: tag },
});

describe("key backup", () => {
  it("creates, reads, updates and deletes versions", async () => {
    const user = await registerUser("kba");
    expectError(await call("GET", "/_matrix/client/v3/room_keys/version", { token: user.accessToken }), 404, "M_NOT_FOUND");
    const v1 = await createVersion(user);
    const v2 = await createVersion(user);
    expect(Number(v2)).toBeGreaterThan(Number(v1));
    const latest = await call("GET", "/_matrix/client/v3/room_keys/version", { token: user.accessToken });
    expect(latest.body).toEqual({ algorithm: ALGORITHM, auth_data: authData, count: 0, etag: "0", version: v2 });
    expect((await call("GET", `/_matrix/client/v3/room_keys/version/${v1}`, { token: user.accessToken })).body["version"]).toBe(v1);

    const newAuth = { public_key: "hijk", signatures: {} };
    const put = await call("PUT", `/_matrix/client/v3/room_keys/version/${v2}`, { token: user.accessToken, body: { algorithm: ALGORITHM, auth_data: newAuth, version: v2 } });
    expect(put.status).toBe(200);
    expect((await call("GET", "/_matrix/client/v3/room_keys/version", { token: user.accessToken })).body["auth_data"]).toEqual(newAuth);
    expectError(await call("PUT", `/_matrix/client/v3/room_keys/version/${v2}`, { token: user.accessToken, body: { algorithm: "other", auth_data: newAuth } }), 400, "M_INVALID_PARAM");
    expectError(await call("PUT", `/_matrix/client/v3/room_keys/version/${v2}`, { token: user.accessToken, body: { algorithm: ALGORITHM, auth_data: newAuth, version: v1 } }), 400, "M_INVALID_PARAM");

    expect((await call("DELETE", `/_matrix/client/v3/room_keys/version/${v2}`, { token: user.accessToken })).status).toBe(200);
    expect((await call("DELETE", `/_matrix/client/v3/room_keys/version/${v2}`, { token: user.accessToken })).status).toBe(200);
    expectError(await call("DELETE", "/_matrix/client/v3/room_keys/version/77", { token: user.accessToken }), 404, "M_NOT_FOUND");
    expect((await call("GET", "/_matrix/client/v3/room_keys/version", { token: user.accessToken })).body["version"]).toBe(v1);
    expectError(await call("GET", `/_matrix/client/v3/room_keys/version/${v2}`, { token: user.accessToken }), 404, "M_NOT_FOUND");
    expectError(await call("GET", "/_matrix/client/v3/room_keys/version/nonsense", { token: user.accessToken }), 404, "M_NOT_FOUND");
    expectError(await call("POST", "/_matrix/client/v3/room_keys/version", { token: user.accessToken, body: { algorithm: ALGORITHM } }), 400, "M_MISSING_PARAM");
    // Another user sees none of it.
    const other = await registerUser("kbb");
    expectError(await call("GET", `/_matrix/client/v3/room_keys/version/${v1}`, { token: other.accessToken }), 404, "M_NOT_FOUND");
  });

  it("stores keys by the spec's replacement rules, with etag and count", async () => {
    const user = await registerUser("kbc");
    const version = await createVersion(user);
    const room = encodeURIComponent("!room:localhost");
    const base = `/_matrix/client/v3/room_keys/keys`;
    const put = (path: string, body: unknown) => call("PUT", `${base}${path}?version=${version}`, { token: user.accessToken, body });
    const get = (path: string) => call("GET", `${base}${path}?version=${version}`, { token: user.accessToken });

    const first = await put(`/${room}/s1`, sessionKey(5, 1, false, "a"));
    expect(first.body).toEqual({ etag: "1", count: 1 });
    // Worse keys do not replace: higher index, same index with more forwards, unverified over verified.
    await put(`/${room}/s1`, sessionKey(6, 0, false, "worse"));
    await put(`/${room}/s1`, sessionKey(5, 2, false, "worse"));
    expect((await get(`/${room}/s1`)).body).toEqual(sessionKey(5, 1, false, "a"));
    await put(`/${room}/s1`, sessionKey(5, 0, false, "b"));
    expect((await get(`/${room}/s1`)).body).toEqual(sessionKey(5, 0, false, "b"));
    await put(`/${room}/s1`, sessionKey(3, 0, false, "c"));
    expect((await get(`/${room}/s1`)).body).toEqual(sessionKey(3, 0, false, "c"));
    await put(`/${room}/s1`, sessionKey(9, 4, true, "verified"));
    await put(`/${room}/s1`, sessionKey(0, 0, false, "unverified"));
    expect((await get(`/${room}/s1`)).body).toEqual(sessionKey(9, 4, true, "verified"));

    const many = await put("", { rooms: { "!room:localhost": { sessions: { s2: sessionKey(0, 0, false, "d") } }, "!other:localhost": { sessions: { s3: sessionKey(0, 0, false, "e") } } } });
    expect(many.body["count"]).toBe(3);
    expect(Object.keys(((await get("")).body["rooms"] as object))).toEqual(["!other:localhost", "!room:localhost"]);
    expect(Object.keys((await get(`/${room}`)).body["sessions"] as object)).toEqual(["s1", "s2"]);
    expectError(await get(`/${room}/missing`), 404, "M_NOT_FOUND");
    const info = await call("GET", "/_matrix/client/v3/room_keys/version", { token: user.accessToken });
    expect(info.body["count"]).toBe(3);

    const del = await call("DELETE", `${base}/${room}/s1?version=${version}`, { token: user.accessToken });
    expect(del.body["count"]).toBe(2);
    expect(Number(del.body["etag"])).toBeGreaterThan(Number(info.body["etag"]));
    expect((await call("DELETE", `${base}?version=${version}`, { token: user.accessToken })).body["count"]).toBe(0);
    expectError(await put(`/${room}/s1`, { ...sessionKey(0, 0, false, "x"), is_verified: "yes" }), 400, "M_BAD_JSON");
    expectError(await call("GET", base, { token: user.accessToken }), 400, "M_MISSING_PARAM");
  });

  it("refuses writes to an old version with M_WRONG_ROOM_KEYS_VERSION", async () => {
    const user = await registerUser("kbd");
    const old = await createVersion(user);
    const current = await createVersion(user);
    const res = await call("PUT", `/_matrix/client/v3/room_keys/keys/${encodeURIComponent("!r:localhost")}/s?version=${old}`, {
      token: user.accessToken,
      body: sessionKey(0, 0, false, "a"),
    });
    expectError(res, 403, "M_WRONG_ROOM_KEYS_VERSION");
    expect(res.body["current_version"]).toBe(current);
    expectError(await call("PUT", `/_matrix/client/v3/room_keys/keys?version=999`, { token: user.accessToken, body: { rooms: {} } }), 404, "M_NOT_FOUND");
  });
});
