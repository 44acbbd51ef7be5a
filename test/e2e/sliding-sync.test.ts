import { afterEach, describe, expect, it } from "vitest";
import { ClientEvent, type MatrixClient, type MatrixEvent, type Room, RoomEvent, SyncState, createClient } from "matrix-js-sdk";
import { SlidingSync, SlidingSyncEvent, type MSC3575RoomData } from "matrix-js-sdk/lib/sliding-sync.js";
import { RumaResponse, encryptionRequest, roomListRequest } from "../../homeserver/test/sync/element-x-sliding-sync";
import { baseUrl, raw, registeredClient } from "./client";

/** Simplified sliding sync (MSC4186) is not in the OpenAPI definitions, so these requests go through `raw`. */
const PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";
const r = encodeURIComponent;

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

interface SlidingJson {
  pos: string;
  lists: Record<string, { count: number }>;
  rooms: Record<string, { timeline?: { type: string; sender: string; content: Record<string, unknown> }[]; initial?: boolean }>;
}

async function slide(token: string, body: Record<string, unknown>, query = ""): Promise<SlidingJson> {
  const res = await raw("POST", `${PATH}${query}`, { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as unknown as SlidingJson;
}

/** Alice's room with Bob in it, made over the Client-Server API. */
async function sharedRoom(): Promise<{ alice: MatrixClient; bob: MatrixClient; roomId: string }> {
  const { client: alice } = await registeredClient("ssa");
  const { client: bob } = await registeredClient("ssb");
  const { room_id: roomId } = await alice.createRoom({ name: "sliding", invite: [bob.getUserId()!] });
  await bob.joinRoom(roomId);
  return { alice, bob, roomId };
}

describe("simplified sliding sync against wrangler dev", () => {
  it("advertises org.matrix.simplified_msc3575 in /versions", async () => {
    const res = await raw("GET", "/_matrix/client/versions");
    expect((res.body["unstable_features"] as Record<string, boolean>)["org.matrix.simplified_msc3575"]).toBe(true);
  });

  it("a raw sync loop's long-poll is woken by another user's message, not by its timeout", async () => {
    const { alice, bob, roomId } = await sharedRoom();
    const token = alice.getAccessToken()!;
    const lists = { all: { ranges: [[0, 19]], timeline_limit: 5, required_state: [["m.room.name", ""], ["m.room.member", "$LAZY"]] } };
    let response = await slide(token, { conn_id: "e2e", lists });
    expect(Object.keys(response.rooms)).toContain(roomId);

    for (const body of ["first", "second"]) {
      // Start the long-poll, let it settle into waiting, then send.
      const waiting = slide(token, { conn_id: "e2e", lists }, `?pos=${r(response.pos)}&timeout=20000`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const sentAt = Date.now();
      await bob.sendTextMessage(roomId, body);
      response = await waiting;
      const latency = Date.now() - sentAt;
      // Woken by the message (the bench measures how fast), not by the 20 s timeout running out.
      expect(latency).toBeLessThan(10_000);
      const timeline = response.rooms[roomId]!.timeline!;
      expect(timeline.map((e) => e.content["body"])).toEqual([body]);
      expect(timeline[0]!.sender).toBe(bob.getUserId());
      expect(response.rooms[roomId]!.initial).toBeUndefined();
    }
  });

  it("a stale pos is M_UNKNOWN_POS and a fresh connection recovers", async () => {
    const { alice } = await sharedRoom();
    const token = alice.getAccessToken()!;
    const res = await raw("POST", `${PATH}?pos=s1_1_1`, { token, body: { conn_id: "stale" } });
    expect(res.status).toBe(400);
    expect(res.body["errcode"]).toBe("M_UNKNOWN_POS");
    const fresh = await slide(token, { conn_id: "stale", lists: { all: { ranges: [[0, 0]], timeline_limit: 1, required_state: [] } } });
    expect(fresh.lists["all"]!.count).toBe(1);
  });

  it("Element X's room-list and encryption connections long-poll side by side, each woken by its own news", async () => {
    const { alice, bob, roomId } = await sharedRoom();
    const token = alice.getAccessToken()!;
    const elementX = async (body: Record<string, unknown>, query = ""): Promise<RumaResponse> => {
      const res = await raw("POST", `${PATH}${query}`, { token, body });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const parsed = RumaResponse.safeParse(res.body);
      expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
      return res.body as RumaResponse;
    };
    // The sdk's SyncService starts both at once; the room list with timeout=0 while it sets up.
    const [list, keys] = await Promise.all([elementX(roomListRequest([[0, 19]]), "?timeout=0"), elementX(encryptionRequest(undefined))]);
    expect(Object.keys(list.rooms!)).toEqual([roomId]);

    for (let round = 0; round < 3; round++) {
      const listPoll = elementX(roomListRequest([[0, 99]]), `?pos=${r(list.pos)}&timeout=30000`);
      const keysPoll = elementX(encryptionRequest(keys.extensions!.to_device!.next_batch), `?pos=${r(keys.pos)}&timeout=30000`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await bob.sendTextMessage(roomId, `message ${round}`);
      const listNews = await listPoll;
      expect(listNews.rooms![roomId]!.timeline!.map((e) => e.content["body"])).toEqual([`message ${round}`]);
      // The encryption loop is still waiting: a message is none of its business. A to-device message wakes it.
      await bob.sendToDevice("m.dummy", new Map([[alice.getUserId()!, new Map([[alice.getDeviceId()!, { round }]])]]));
      const keysNews = await keysPoll;
      expect(keysNews.extensions!.to_device!.events!.map((e) => e.content["round"])).toEqual([round]);
      Object.assign(list, listNews);
      Object.assign(keys, keysNews);
    }
  });

  it("matrix-js-sdk's SlidingSync class (which speaks the simplified endpoint) receives rooms and live messages", async () => {
    const { alice, bob, roomId } = await sharedRoom();
    const lists = new Map([["all", { ranges: [[0, 9]], timeline_limit: 5, required_state: [["m.room.name", ""], ["m.room.member", "$LAZY"]] }]]);
    const sliding = new SlidingSync(baseUrl(), lists, { timeline_limit: 10, required_state: [["*", "*"]] }, alice, 5000);
    const seen: { roomId: string; data: MSC3575RoomData }[] = [];
    const message = new Promise<MSC3575RoomData>((resolve) => {
      sliding.on(SlidingSyncEvent.RoomData, (id: string, data: MSC3575RoomData) => {
        seen.push({ roomId: id, data });
        if (id === roomId && data.timeline.some((e) => e.content["body"] === "over sliding sync")) resolve(data);
      });
    });
    stops.push(() => sliding.stop());
    void sliding.start();
    await expect.poll(() => seen.some((s) => s.roomId === roomId), { timeout: 10_000 }).toBe(true);
    const initial = seen.find((s) => s.roomId === roomId)!.data;
    expect(initial.name).toBe("sliding");
    await bob.sendTextMessage(roomId, "over sliding sync");
    const live = await message;
    expect(live.timeline.at(-1)!.sender).toBe(bob.getUserId());
    expect(sliding.getListData("all")?.joinedCount).toBe(1);
  });

  it("a whole matrix-js-sdk client syncs with sliding sync and sees messages live", async () => {
    const { alice, bob, roomId } = await sharedRoom();
    const lists = new Map([["all", { ranges: [[0, 9]], timeline_limit: 10, required_state: [["*", "*"]] }]]);
    const client = createClient({ baseUrl: baseUrl(), accessToken: alice.getAccessToken()!, userId: alice.getUserId()!, deviceId: alice.getDeviceId()! });
    const sliding = new SlidingSync(baseUrl(), lists, { timeline_limit: 10, required_state: [["*", "*"]] }, client, 5000);
    const prepared = new Promise<void>((resolve) => {
      const onSync = (state: SyncState) => {
        if (state === SyncState.Prepared || state === SyncState.Syncing) {
          client.off(ClientEvent.Sync, onSync);
          resolve();
        }
      };
      client.on(ClientEvent.Sync, onSync);
    });
    stops.push(() => client.stopClient());
    await client.startClient({ slidingSync: sliding });
    await prepared;
    await expect.poll(() => client.getRoom(roomId)?.name, { timeout: 10_000 }).toBe("sliding");
    const live = new Promise<MatrixEvent>((resolve) => {
      client.on(RoomEvent.Timeline, (event: MatrixEvent, room: Room | undefined) => {
        if (room?.roomId === roomId && event.getContent()["body"] === "to the sdk") resolve(event);
      });
    });
    await bob.sendTextMessage(roomId, "to the sdk");
    expect((await live).getSender()).toBe(bob.getUserId());
  });
});
