// Many clients sending into shared rooms while long-polling /sync, and the check that follows: every acknowledged
// message (a 200 with an event_id) is seen exactly once by every member of its room, in one order for everyone,
// and /messages holds exactly that sequence. Shared by the load, fault and endurance harnesses.
import { MatrixHttpError, allMessages, registerUser } from "./client.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SYNC_FILTER = { room: { timeline: { limit: 500 } }, presence: { types: [] } };

/** Errors a client retries (the server is down or restarting): connection errors, timeouts, 5xx. */
const transient = (err) => !(err instanceof MatrixHttpError) || err.status >= 500;

/** wrangler dev's answer while it reloads the Worker because a source file changed (not the server's doing). */
const reloaded = (err) => err instanceof MatrixHttpError && err.status === 503 && /restarted mid-request/.test(err.body?.raw ?? "");

/**
 * Retries `fn` while the server is unreachable; counts each retry in `stats.retries`, or in `stats.reloads` when
 * wrangler dev was reloading the Worker after a source edit.
 */
async function retrying(stats, fn, deadlineMs = 120_000) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!transient(err) || Date.now() > deadline) throw err;
      if (reloaded(err)) {
        stats.reloads++;
        await sleep(200);
        continue;
      }
      stats.retries++;
      stats.lastError = String(err?.cause?.code ?? err?.message ?? err);
      await sleep(200);
    }
  }
}

/**
 * Registers `clients` users over `rooms` rooms (client i in room i % rooms) and starts their /sync loops.
 * `extraJoin(roomId)` is called for each room (e.g. an appservice bot joining).
 */
export async function setupTraffic(base, { clients, rooms, extraJoin }) {
  const users = [];
  for (let i = 0; i < clients; i++) users.push(await registerUser(base, `load${i}x`));
  const roomIds = [];
  for (let r = 0; r < rooms; r++) {
    roomIds.push(await users[r].createRoom({ preset: "public_chat", name: `load ${r}`, creation_content: { "org.example.load_nonce": `${process.pid}-${r}` } }));
    if (extraJoin) await extraJoin(roomIds[r]);
  }
  for (let i = rooms; i < clients; i++) await users[i].join(roomIds[i % rooms]);
  const stats = { retries: 0, reloads: 0, lastError: "", limited: 0, errors: [] };
  const members = users.map((client, i) => ({ client, roomId: roomIds[i % rooms], seen: [], since: undefined, acked: [] }));
  for (const m of members) m.since = (await m.client.sync({ filter: SYNC_FILTER })).next_batch;
  let stopped = false;
  const loops = members.map(async (m) => {
    while (!stopped) {
      try {
        const res = await retrying(stats, () => m.client.sync({ since: m.since, timeout: 5_000, filter: SYNC_FILTER }));
        const timeline = res.rooms?.join?.[m.roomId]?.timeline;
        if (timeline?.limited) stats.limited++;
        for (const e of timeline?.events ?? []) if (e.type === "m.room.message") m.seen.push(e.event_id);
        m.since = res.next_batch;
      } catch (err) {
        stats.errors.push(`sync ${m.client.userId}: ${err.message}`);
        return;
      }
    }
  });
  return {
    users,
    roomIds,
    members,
    stats,
    /** Every client sends `perClient` messages one after another (retrying with the same txnId while the server is down). */
    async send(perClient, { onAck } = {}) {
      await Promise.all(
        members.map(async (m, i) => {
          for (let j = 0; j < perClient; j++) {
            const txnId = `c${i}-${m.acked.length}`;
            try {
              const eventId = await retrying(stats, () => m.client.send(m.roomId, { msgtype: "m.text", body: `client ${i} message ${m.acked.length}` }, txnId));
              m.acked.push(eventId);
              onAck?.();
            } catch (err) {
              stats.errors.push(`send ${txnId}: ${err.message}`);
              return;
            }
          }
        }),
      );
    },
    /** Waits until each member has seen every acknowledged message of its room (or `timeoutMs`), then stops the loops. */
    async drain(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      const ackedIn = (roomId) => members.filter((m) => m.roomId === roomId).reduce((n, m) => n + m.acked.length, 0);
      while (Date.now() < deadline && members.some((m) => m.seen.length < ackedIn(m.roomId))) await sleep(100);
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** The checks; answers a list of failures (empty when all hold). */
export async function verifyTraffic(traffic) {
  const failures = [...traffic.stats.errors];
  if (traffic.stats.limited > 0) failures.push(`${traffic.stats.limited} incremental /sync timelines were limited (a gap)`);
  for (const roomId of traffic.roomIds) {
    const inRoom = traffic.members.filter((m) => m.roomId === roomId);
    const acked = new Set(inRoom.flatMap((m) => m.acked));
    const ackedCount = inRoom.reduce((n, m) => n + m.acked.length, 0);
    if (acked.size !== ackedCount) failures.push(`${roomId}: ${ackedCount - acked.size} acknowledgements repeated an event_id of another send`);
    const history = (await allMessages(inRoom[0].client, roomId)).map((e) => e.event_id);
    const check = (label, ids) => {
      const set = new Set(ids);
      if (set.size !== ids.length) failures.push(`${roomId}: ${label} has ${ids.length - set.size} duplicates`);
      const missing = [...acked].filter((id) => !set.has(id)).length;
      if (missing) failures.push(`${roomId}: ${label} misses ${missing} of ${acked.size} acknowledged messages`);
      const extra = ids.filter((id) => !acked.has(id)).length;
      if (extra) failures.push(`${roomId}: ${label} has ${extra} messages nobody got an acknowledgement for`);
    };
    check("/messages", history);
    for (const m of inRoom) {
      check(`${m.client.userId}'s /sync`, m.seen);
      if (m.seen.join() !== history.join()) failures.push(`${roomId}: ${m.client.userId} saw the messages in another order than /messages`);
    }
  }
  return failures;
}
