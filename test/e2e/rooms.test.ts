import { describe, expect, it } from "vitest";
import { Direction, EventType, type MatrixClient, MsgType, RelationType } from "matrix-js-sdk";
import { api, registeredClient } from "./client";

const tokenOf = (client: MatrixClient) => client.getAccessToken()!;
const r = encodeURIComponent;

/** Join through the raw endpoint: matrix-js-sdk's joinRoom waits for /sync, which is the next issue's work. */
async function join(client: MatrixClient, roomId: string) {
  const res = await api("POST", `/_matrix/client/v3/join/${r(roomId)}`, { token: tokenOf(client), body: {} });
  expect(res.status).toBe(200);
}

describe("rooms with matrix-js-sdk, two and three users", () => {
  it("create, invite, join, send, edit, react, thread, redact, paginate, leave, ban", async () => {
    const { client: alice } = await registeredClient("alice");
    const { client: bob } = await registeredClient("bob");
    const { client: carol } = await registeredClient("carol");

    const { room_id: roomId } = await alice.createRoom({ name: "E2E room", topic: "testing" });
    await alice.invite(roomId, bob.getUserId()!);
    await alice.invite(roomId, carol.getUserId()!);
    await join(bob, roomId);
    await join(carol, roomId);
    expect(Object.keys((await bob.getJoinedRoomMembers(roomId)).joined).sort()).toEqual(
      [alice.getUserId(), bob.getUserId(), carol.getUserId()].sort(),
    );

    const root = await alice.sendTextMessage(roomId, "hello everyone");
    const edit = await alice.sendEvent(roomId, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "* hello, everyone",
      "m.new_content": { msgtype: MsgType.Text, body: "hello, everyone" },
      "m.relates_to": { rel_type: RelationType.Replace, event_id: root.event_id },
    });
    const reaction = await bob.sendEvent(roomId, EventType.Reaction, {
      "m.relates_to": { rel_type: RelationType.Annotation, event_id: root.event_id, key: "👍" },
    });
    const threadReply = await carol.sendEvent(roomId, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "in a thread",
      "m.relates_to": { rel_type: RelationType.Thread, event_id: root.event_id },
    });
    const mistake = await bob.sendTextMessage(roomId, "wrong room, sorry");
    await bob.redactEvent(roomId, mistake.event_id, undefined, { reason: "mistake" });

    const redacted = await carol.fetchRoomEvent(roomId, mistake.event_id);
    expect(redacted.content).toEqual({});
    expect((redacted.unsigned as Record<string, unknown>)["redacted_because"]).toBeTruthy();

    const page = await carol.createMessagesRequest(roomId, null, 50, Direction.Backward);
    const ids = page.chunk.map((e) => e.event_id);
    for (const id of [root.event_id, edit.event_id, reaction.event_id, threadReply.event_id, mistake.event_id]) expect(ids).toContain(id);
    // Newest first when paginating backwards.
    expect(ids.indexOf(mistake.event_id)).toBeLessThan(ids.indexOf(root.event_id));

    for (let i = 0; i < 30; i++) await alice.sendTextMessage(roomId, `bulk ${i}`);
    const seen: string[] = [];
    let from: string | null = null;
    for (let i = 0; i < 20; i++) {
      const res = await api("GET", `/_matrix/client/v3/rooms/${r(roomId)}/messages?dir=b&limit=7${from ? `&from=${from}` : ""}`, { token: tokenOf(bob) });
      seen.push(...(res.body["chunk"] as { event_id: string }[]).map((e) => e.event_id));
      if (!res.body["end"]) break;
      from = res.body["end"] as string;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toContain(root.event_id);

    await carol.leave(roomId);
    await expect(carol.sendTextMessage(roomId, "after leaving")).rejects.toMatchObject({ errcode: "M_FORBIDDEN" });
    await alice.ban(roomId, bob.getUserId()!, "testing bans");
    await expect(bob.sendTextMessage(roomId, "banned")).rejects.toMatchObject({ errcode: "M_FORBIDDEN" });
    const rejoin = await api("POST", `/_matrix/client/v3/join/${r(roomId)}`, { token: tokenOf(bob), body: {} });
    expect(rejoin.status).toBe(403);
  });

  it("serves state, members, context and event lookups in the spec's shapes", async () => {
    const { client: alice } = await registeredClient("shapes");
    const token = tokenOf(alice);
    const created = await api("POST", "/_matrix/client/v3/createRoom", { token, body: { name: "Shapes", preset: "public_chat" } });
    const roomId = created.body["room_id"] as string;
    const sent = await api("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/send/m.room.message/t1`, { token, body: { msgtype: "m.text", body: "x" } });
    const eventId = sent.body["event_id"] as string;
    expect((await api("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/state/m.room.topic/`, { token, body: { topic: "t" } })).status).toBe(200);
    expect((await api("GET", `/_matrix/client/v3/rooms/${r(roomId)}/state`, { token })).status).toBe(200);
    expect((await api("GET", `/_matrix/client/v3/rooms/${r(roomId)}/state/m.room.name/`, { token })).status).toBe(200);
    expect((await api("GET", `/_matrix/client/v3/rooms/${r(roomId)}/members`, { token })).status).toBe(200);
    expect((await api("GET", `/_matrix/client/v3/rooms/${r(roomId)}/joined_members`, { token })).status).toBe(200);
    expect((await api("GET", "/_matrix/client/v3/joined_rooms", { token })).status).toBe(200);
    expect((await api("GET", `/_matrix/client/v3/rooms/${r(roomId)}/event/${r(eventId)}`, { token })).status).toBe(200);
    expect((await api("GET", `/_matrix/client/v3/rooms/${r(roomId)}/context/${r(eventId)}?limit=4`, { token })).status).toBe(200);
    expect((await api("GET", `/_matrix/client/v3/rooms/${r(roomId)}/messages?dir=f&limit=5`, { token })).status).toBe(200);
    expect((await api("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/redact/${r(eventId)}/t2`, { token, body: { reason: "r" } })).status).toBe(200);
    expect((await api("POST", `/_matrix/client/v3/rooms/${r(roomId)}/upgrade`, { token, body: { new_version: "12" } })).status).toBe(200);
  });
});
