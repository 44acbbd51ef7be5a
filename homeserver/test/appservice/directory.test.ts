import { describe, expect, it } from "vitest";
import { call, expectError, registerUser, uniqueName } from "../helpers";

/** A registered appservice with no URL: the directory needs only its as_token. */
function appservice() {
  const id = uniqueName("dir").toLowerCase();
  const registration = { id, url: null, as_token: `as-${id}`, hs_token: `hs-${id}`, sender_localpart: `${id}bot` };
  return { id, asToken: registration.as_token, env: { env: { APPSERVICES: JSON.stringify([registration]) } } };
}

describe("appservice room directories", () => {
  it("publishes rooms in a network's directory, listed by third_party_instance_id and include_all_networks", async () => {
    const b = appservice();
    const alice = await registerUser("alice");
    const room = await call("POST", "/_matrix/client/v3/createRoom", { token: alice.accessToken, body: { name: `portal ${b.id}` } });
    const roomId = room.body["room_id"] as string;
    const path = `/_matrix/client/v3/directory/list/appservice/net1/${encodeURIComponent(roomId)}`;

    expectError(await call("PUT", path, { token: alice.accessToken, body: { visibility: "public" }, ...b.env }), 403, "M_FORBIDDEN");
    expectError(await call("PUT", path, { token: b.asToken, body: { visibility: "hidden" }, ...b.env }), 400, "M_BAD_JSON");
    expectError(await call("PUT", path, { token: b.asToken, body: {}, ...b.env }), 400, "M_MISSING_PARAM");
    const unknownRoom = `/_matrix/client/v3/directory/list/appservice/net1/${encodeURIComponent("!nope:localhost:8787")}`;
    expectError(await call("PUT", unknownRoom, { token: b.asToken, body: { visibility: "public" }, ...b.env }), 404, "M_NOT_FOUND");
    expect((await call("PUT", path, { token: b.asToken, body: { visibility: "public" }, ...b.env })).status).toBe(200);

    const list = async (body: Record<string, unknown>) => {
      const res = await call("POST", "/_matrix/client/v3/publicRooms", { token: alice.accessToken, body: { limit: 500, ...body }, ...b.env });
      expect(res.status).toBe(200);
      return (res.body["chunk"] as { room_id: string }[]).map((r) => r.room_id);
    };
    expect(await list({ third_party_instance_id: `${b.id}|net1` })).toEqual([roomId]);
    expect(await list({ third_party_instance_id: `${b.id}|net2` })).toEqual([]);
    expect(await list({ third_party_instance_id: "nobody|net1" })).toEqual([]);
    expect(await list({ include_all_networks: true })).toContain(roomId);
    expect(await list({})).not.toContain(roomId);
    expectError(await call("POST", "/_matrix/client/v3/publicRooms", { token: alice.accessToken, body: { include_all_networks: true, third_party_instance_id: `${b.id}|net1` }, ...b.env }), 400, "M_INVALID_PARAM");

    expect((await call("PUT", path, { token: b.asToken, body: { visibility: "private" }, ...b.env })).status).toBe(200);
    expect(await list({ third_party_instance_id: `${b.id}|net1` })).toEqual([]);
    expect(await list({ include_all_networks: true })).not.toContain(roomId);
  });
});
