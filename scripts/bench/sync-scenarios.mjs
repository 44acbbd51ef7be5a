// /sync and sliding sync scenarios. Each answers result rows; a thrown error becomes a "not run" row in bench.mjs.
import { pool, registerUser } from "./client.mjs";
import { row, summarize } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const timelineIds = (sync, roomId) => (sync.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e) => e.event_id);

let nonce = 0;
/**
 * createRoom body with a nonce in the create event: in room version 12 the room id is the create event's hash, and
 * two rooms created by one user in the same millisecond otherwise collide (M_ROOM_IN_USE).
 */
const uniqueRoom = (name) => ({ name, creation_content: { "org.example.bench_nonce": `${process.pid}-${nonce++}` } });

/** Lets a long-poll reach the server and park before the event that should wake it is sent. */
const PARK_MS = 30;

/** B long-polls /sync, A sends: time from the send's start to B's /sync answering with that event. */
export async function syncWake({ base }) {
  const a = await registerUser(base, "wakea");
  const b = await registerUser(base, "wakeb");
  const roomId = await a.createRoom({ preset: "public_chat" });
  await b.join(roomId);
  let since = (await b.sync({ filter: { room: { timeline: { limit: 1 } } } })).next_batch;
  const samples = [];
  const t0 = performance.now();
  for (let i = 0; i < 100; i++) {
    let poll = b.sync({ since, timeout: 30_000 });
    await sleep(PARK_MS);
    const start = performance.now();
    const sending = a.send(roomId, { msgtype: "m.text", body: `wake ${i}` });
    for (;;) {
      const res = await poll;
      since = res.next_batch;
      const eventId = await sending;
      if (timelineIds(res, roomId).includes(eventId)) break;
      poll = b.sync({ since, timeout: 30_000 });
    }
    samples.push(performance.now() - start);
  }
  return [summarize("/sync wake latency (send start -> B's long-poll returns it)", samples, performance.now() - t0, `long-poll parked ${PARK_MS} ms before each send`)];
}

/**
 * One user in `rooms` rooms of `events` messages each (seeded with concurrency), then: initial /sync, and
 * incremental /sync after one message in one room. Answers the rows and the user, for the sliding sync scenario.
 */
export async function initialAndIncrementalSync({ base, quick }) {
  const rooms = quick ? 20 : 100;
  const events = quick ? 10 : 50;
  const user = await registerUser(base, "init");
  const seedStart = performance.now();
  const roomIds = [];
  await pool(rooms, 8, async () => roomIds.push(await user.createRoom(uniqueRoom(`room ${roomIds.length}`))));
  await pool(rooms * events, 8, (i) => user.send(roomIds[i % rooms], { msgtype: "m.text", body: `seed ${i}` }));
  const seedMs = performance.now() - seedStart;
  const rows = [row(`seed ${rooms} rooms x ${events} messages (concurrency 8)`, { n: rooms * (events + 1), throughput_per_s: +((rooms * (events + 1) * 1000) / seedMs).toFixed(1), note: `seeding took ${(seedMs / 1000).toFixed(1)} s (createRoom + sends)` })];

  let sync;
  const initial = await pool(quick ? 5 : 20, 1, async () => {
    sync = await user.sync();
  });
  const joined = Object.keys(sync.rooms?.join ?? {}).length;
  if (joined < rooms) throw new Error(`initial /sync listed ${joined} of ${rooms} rooms`);
  rows.push(summarize(`initial /sync, ${rooms} rooms x ${events} messages`, initial.samples, initial.wallMs, "default filter (timeline limit 10)"));

  let since = sync.next_batch;
  const samples = [];
  const t0 = performance.now();
  for (let i = 0; i < (quick ? 20 : 50); i++) {
    const roomId = roomIds[i % rooms];
    const eventId = await user.send(roomId, { msgtype: "m.text", body: `changed ${i}` });
    const start = performance.now();
    const res = await user.sync({ since });
    samples.push(performance.now() - start);
    if (!timelineIds(res, roomId).includes(eventId)) throw new Error("incremental /sync missed the new message");
    since = res.next_batch;
  }
  rows.push(summarize(`incremental /sync, one changed room (of ${rooms})`, samples, performance.now() - t0, "timeout=0, after one send"));
  return { rows, user, roomIds };
}

const SLIDING = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

/** Sliding sync first page (20 rooms by activity) for a user in 1,000 rooms (100 in quick mode), then incremental. */
export async function slidingSync({ base, quick }, seeded) {
  const total = quick ? 100 : 1000;
  const user = seeded?.user ?? (await registerUser(base, "slide"));
  const roomIds = [...(seeded?.roomIds ?? [])];
  const missing = total - roomIds.length;
  const seedStart = performance.now();
  const created = [];
  await pool(missing, 8, async (i) => {
    const roomId = await user.createRoom(uniqueRoom(`sliding ${i}`));
    created.push(roomId);
    await user.send(roomId, { msgtype: "m.text", body: `hello ${i}` });
  });
  roomIds.push(...created);
  const seedMs = performance.now() - seedStart;
  const rows = [row(`seed ${missing} more rooms (${total} in all) x 1 message + creation events (concurrency 8)`, { n: missing, throughput_per_s: +((missing * 1000) / seedMs).toFixed(1), note: `seeding took ${(seedMs / 1000).toFixed(1)} s` })];

  const body = { lists: { all: { ranges: [[0, 19]], timeline_limit: 1, required_state: [["m.room.name", ""], ["m.room.member", "$LAZY"]] } } };
  let first;
  let conn = 0;
  const firstPage = await pool(quick ? 10 : 20, 1, async () => {
    first = await user.call("POST", `${SLIDING}?timeout=0`, { ...body, conn_id: `bench${conn++}` });
  });
  const count = Object.keys(first.rooms ?? {}).length;
  if (count !== 20) throw new Error(`first page had ${count} rooms, expected 20`);
  if ((first.lists?.all?.count ?? 0) < total) throw new Error(`list count ${first.lists?.all?.count}, expected ${total}`);
  rows.push(summarize(`sliding sync first page (20 of ${total} rooms)`, firstPage.samples, firstPage.wallMs, "new conn_id each time, timeline_limit 1"));

  let pos = first.pos;
  const connId = `bench${conn - 1}`;
  const samples = [];
  const t0 = performance.now();
  for (let i = 0; i < (quick ? 20 : 50); i++) {
    const roomId = roomIds[(i * 37) % roomIds.length];
    const eventId = await user.send(roomId, { msgtype: "m.text", body: `slide ${i}` });
    const start = performance.now();
    const res = await user.call("POST", `${SLIDING}?timeout=0&pos=${encodeURIComponent(pos)}`, { ...body, conn_id: connId });
    samples.push(performance.now() - start);
    const events = (res.rooms?.[roomId]?.timeline ?? []).map((e) => e.event_id);
    if (!events.includes(eventId)) throw new Error("incremental sliding sync missed the new message");
    pos = res.pos;
  }
  rows.push(summarize("sliding sync incremental, one changed room", samples, performance.now() - t0, "timeout=0, after one send"));
  return rows;
}
