import { afterEach, describe, expect, it } from "vitest";
import { ClientEvent, type MatrixClient, type MatrixEvent, type Room, RoomEvent, SyncState } from "matrix-js-sdk";
import { api, raw, registeredClient, syncUntilPrepared } from "./client";

const r = encodeURIComponent;
const running: MatrixClient[] = [];

afterEach(() => {
  for (const client of running.splice(0)) client.stopClient();
});

/** Starts the SDK's sync loop (stopped after the tests) and waits for its first sync. */
async function startSyncing(client: MatrixClient): Promise<void> {
  running.push(client);
  await syncUntilPrepared(client);
}

/** Resolves with the first live timeline event in `roomId` matching `test`; set up before the action that causes it. */
function timelineEvent(client: MatrixClient, roomId: string, test: (event: MatrixEvent) => boolean): Promise<MatrixEvent> {
  return new Promise((resolve) => {
    const onTimeline = (event: MatrixEvent, room: Room | undefined, toStartOfTimeline: boolean | undefined) => {
      if (room?.roomId !== roomId || toStartOfTimeline || !test(event)) return;
      client.off(RoomEvent.Timeline, onTimeline);
      resolve(event);
    };
    client.on(RoomEvent.Timeline, onTimeline);
  });
}

/** Resolves once the client's sync has brought it an invite to `roomId`. */
function invited(client: MatrixClient, roomId: string): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (client.getRoom(roomId)?.getMyMembership() !== "invite") return;
      client.off(ClientEvent.Room, check);
      client.off(RoomEvent.MyMembership, check);
      resolve();
    };
    client.on(ClientEvent.Room, check);
    client.on(RoomEvent.MyMembership, check);
    check();
  });
}

const isMessage = (body: string) => (event: MatrixEvent) => event.getType() === "m.room.message" && event.getContent()["body"] === body;

describe("/sync with matrix-js-sdk", () => {
  it("two users sync, invite, join and see each other's messages live", async () => {
    const { client: alice } = await registeredClient("syncalice");
    const { client: bob } = await registeredClient("syncbob");
    await Promise.all([startSyncing(alice), startSyncing(bob)]);

    const { room_id: roomId } = await alice.createRoom({ name: "Sync e2e" });
    const bobInvited = invited(bob, roomId);
    await alice.invite(roomId, bob.getUserId()!);
    await bobInvited;
    await bob.joinRoom(roomId);

    const aliceSees = timelineEvent(alice, roomId, isMessage("hello from bob"));
    const bobSees = timelineEvent(bob, roomId, isMessage("hello from alice"));
    await alice.sendTextMessage(roomId, "hello from alice");
    await bob.sendTextMessage(roomId, "hello from bob");
    expect((await bobSees).getSender()).toBe(alice.getUserId());
    expect((await aliceSees).getSender()).toBe(bob.getUserId());

    // The SDK's view of the room, built from /sync alone.
    const room = bob.getRoom(roomId)!;
    expect(room.name).toBe("Sync e2e");
    expect(room.getJoinedMemberCount()).toBe(2);
    const bodies = room.getLiveTimeline().getEvents().map((e) => e.getContent()["body"]);
    expect(bodies).toEqual(expect.arrayContaining(["hello from alice", "hello from bob"]));
    // Local echo: Alice's own message came back with her transaction id, so it is not shown twice.
    const own = alice.getRoom(roomId)!.getLiveTimeline().getEvents().filter(isMessage("hello from alice"));
    expect(own).toHaveLength(1);
  });

  it("answers /sync in the spec's shapes: initial, incremental, long-poll, invite and leave", async () => {
    const { client: alice } = await registeredClient("syncshape");
    const { client: bob } = await registeredClient("syncshapeb");
    const token = alice.getAccessToken()!;
    const bobToken = bob.getAccessToken()!;
    const { room_id: roomId } = await alice.createRoom({ name: "Shapes" });
    await alice.sendTextMessage(roomId, "first");

    const bobInitial = await api("GET", "/_matrix/client/v3/sync", { token: bobToken });
    await alice.invite(roomId, bob.getUserId()!);
    const withInvite = await api("GET", `/_matrix/client/v3/sync?since=${r(bobInitial.body["next_batch"] as string)}&timeout=5000`, { token: bobToken });
    expect(Object.keys((withInvite.body["rooms"] as { invite: object }).invite)).toEqual([roomId]);

    const initial = await api("GET", "/_matrix/client/v3/sync?timeout=0", { token });
    expect(initial.status).toBe(200);
    const since = initial.body["next_batch"] as string;

    const waiting = api("GET", `/_matrix/client/v3/sync?since=${r(since)}&timeout=20000`, { token });
    const started = Date.now();
    await alice.sendTextMessage(roomId, "second");
    const incremental = await waiting;
    expect(Date.now() - started).toBeLessThan(10_000);
    const joined = (incremental.body["rooms"] as { join: Record<string, { timeline: { events: { content: { body?: string } }[] } }> }).join;
    expect(joined[roomId]!.timeline.events.map((e) => e.content.body)).toContain("second");

    await bob.joinRoom(roomId);
    await bob.leave(roomId);
    const afterLeave = await api("GET", `/_matrix/client/v3/sync?since=${r(withInvite.body["next_batch"] as string)}`, { token: bobToken });
    expect(Object.keys((afterLeave.body["rooms"] as { leave: object }).leave)).toEqual([roomId]);

    // Account data, typing and state_after, validated against the spec's schema too.
    const accountDataPath = `/_matrix/client/v3/user/${r(alice.getUserId()!)}/account_data/org.example.e2e`;
    expect((await api("PUT", accountDataPath, { token, body: { on: true } })).status).toBe(200);
    await alice.sendTyping(roomId, true, 10_000);
    const extras = await api("GET", `/_matrix/client/v3/sync?since=${r(since)}&use_state_after=true`, { token });
    expect(extras.status).toBe(200);
    expect((extras.body["account_data"] as { events: { type: string }[] }).events.map((e) => e.type)).toContain("org.example.e2e");
    const extraRoom = (extras.body["rooms"] as { join: Record<string, Record<string, unknown>> }).join[roomId]!;
    expect(extraRoom["state_after"]).toBeTruthy();
    expect(extraRoom["state"]).toBeUndefined();
    expect((extraRoom["ephemeral"] as { events: { type: string }[] }).events.map((e) => e.type)).toContain("m.typing");

    const filter = await api("POST", `/_matrix/client/v3/user/${r(alice.getUserId()!)}/filter`, { token, body: { room: { timeline: { limit: 5 } } } });
    expect(filter.status).toBe(200);
    const filtered = await api("GET", `/_matrix/client/v3/sync?filter=${filter.body["filter_id"] as string}&full_state=true`, { token });
    expect(filtered.status).toBe(200);
    // The spec documents no error responses for /sync; checked raw.
    const bad = await raw("GET", "/_matrix/client/v3/sync?since=nonsense", { token });
    expect({ status: bad.status, errcode: bad.body["errcode"] }).toEqual({ status: 400, errcode: "M_INVALID_PARAM" });
    expect((await api("GET", "/_matrix/client/v3/pushrules/", { token })).status).toBe(200);
  });
});
