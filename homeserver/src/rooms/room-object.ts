import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../config";
import { serverSigningKey } from "../services/server-keys";
import { type EventRow, type TxnKey, getCurrentStateRows, getEventRow, getLatestEvent, getTxnEventId, insertEventStatements } from "../storage/events";
import { getRoom, insertRoomStatement } from "../storage/rooms";
import { checkAuth, stateKeyOf, userPowerLevel } from "./auth-rules";
import { namedLevel } from "./power-levels";
import { InvalidEvent, type EventTemplate, type RoomEvent, authStateFor, buildEvent } from "./event-builder";
import type { Pdu, RoomVersionId } from "./pdu";
import { redactEvent } from "./redaction";
import { ROOM_VERSIONS, isSupportedRoomVersion } from "./room-versions";
import { strippedState } from "./stripped-state";
import { notifyUsers } from "../sync/notifier";
import { HAND_OFF_WATCHDOG_MS, finishHandOffs, outboxRoomId, planHandOff, recoverHandOffs, settleHandOff } from "../appservice/publish";
import { pushRecipients } from "../push/room-push";
import { preparePush } from "../services/push-delivery";
import { type MemberPushSettings, pushSettingsOf } from "../services/push-rules";
import { SerialQueue } from "../util/durable-sqlite";

/** What a RoomObject answers: a value, or the Matrix error to give the client (errors do not cross RPC typed). */
export type RoomResult<T> = { ok: true; value: T } | { ok: false; status: 400 | 403 | 404 | 413; errcode: string; error: string };

export interface SentEvent {
  event_id: string;
  stream_ordering: number;
}

export interface SendOptions {
  /** Idempotency scope: a retry with the same scope returns the first event. */
  txn?: TxnKey;
  /** origin_server_ts to use instead of now (appservices' `?ts=`). */
  ts?: number;
}

interface LoadedRoom {
  roomId: string;
  version: RoomVersionId;
  state: Map<string, RoomEvent>;
  latest: { event_id: string; depth: number } | null;
}

const fail = (status: 400 | 403 | 404 | 413, errcode: string, error: string): RoomResult<never> => ({ ok: false, status, errcode, error });

/**
 * The room server for one room (Dendrite's roomserver input, per room). Every write to the room is serialized
 * here: build the event on the current state, authorize it, commit it with its state change to D1 in one batch,
 * then update the cached state. Reads go straight to D1, which only ever holds committed, authorized history.
 */
export class RoomObject extends DurableObject<Env> {
  private room: LoadedRoom | null = null;
  /** Writes run one at a time, in arrival order. */
  private readonly writes = new SerialQueue();

  /** Creates the room from its signed create event and the events that follow it (creator join, power levels...). */
  createRoom(roomId: string, version: string, create: RoomEvent, templates: EventTemplate[]): Promise<RoomResult<SentEvent[]>> {
    return this.writes.run(async () => {
      if (!isSupportedRoomVersion(version)) return fail(400, "M_UNSUPPORTED_ROOM_VERSION", `Unsupported room version ${version}`);
      if (this.room || (await getRoom(this.env.DB, roomId))) return fail(400, "M_ROOM_IN_USE", "Room already exists");
      const room: LoadedRoom = { roomId, version, state: new Map(), latest: null };
      const rejected = checkAuth(version, create, new Map());
      if (rejected) return fail(400, "M_INVALID_PARAM", `Invalid create event: ${rejected}`);
      // Built on a private copy: the object's cached room is set only once the whole batch is committed.
      const built = [{ event: create, unsigned: null as Record<string, unknown> | null }];
      apply(room, create);
      for (const template of templates) {
        const event = await this.build(room, template, Date.now());
        if (!event.ok) return event;
        built.push({ event: event.value, unsigned: unsignedFor(room, event.value) });
        apply(room, event.value);
      }
      const results = await this.commit(
        room,
        built,
        [insertRoomStatement(this.env.DB, { roomId, roomVersion: version, creator: create.pdu.sender, isPublic: false })],
      );
      this.room = room;
      this.wakeSyncs(room, built.map((b) => b.event), results);
      return { ok: true, value: results };
    });
  }

  /** Input: builds, authorizes and commits one event from a local user. */
  send(roomId: string, template: EventTemplate, options: SendOptions = {}): Promise<RoomResult<SentEvent>> {
    return this.writes.run(async () => {
      const room = await this.load(roomId);
      if (!room) return fail(404, "M_NOT_FOUND", "Unknown room");
      if (options.txn) {
        const existing = await getTxnEventId(this.env.DB, options.txn);
        if (existing) {
          const row = await getEventRow(this.env.DB, existing);
          if (row) return { ok: true, value: { event_id: row.event_id, stream_ordering: row.stream_ordering } };
        }
      }
      // The members' push rules are read while the event is built, so counting notifications adds no round trip.
      const pushSettings = this.pushSettings(room, template);
      const built = await this.build(room, template, options.ts ?? Date.now());
      if (!built.ok) return built;
      const event = built.value;

      let redaction: { targetEventId: string; redactedPdu: Pdu } | undefined;
      if (event.pdu.type === "m.room.redaction" && template.redacts !== undefined) {
        const target = await this.redactionTarget(room, event, template.redacts);
        if (!target.ok) return target;
        redaction = target.value ?? undefined;
      }
      // Push actions are committed with the event (spec: a new event's notification count "MUST appear in the same
      // /sync response as the event itself"), evaluated on the state before it; gateways are told after the commit.
      const push = preparePush(this.env, room, event, await pushSettings, redaction?.targetEventId ?? null);
      const [sent] = await this.commit(room, [{ event, unsigned: unsignedFor(room, event), txn: options.txn, redaction }], [], push.statements);
      apply(room, event);
      if (redaction) applyRedaction(room, redaction.targetEventId, redaction.redactedPdu);
      this.wakeSyncs(room, [event], [sent!]);
      this.ctx.waitUntil(push.deliver());
      return { ok: true, value: sent! };
    });
  }

  private async build(room: LoadedRoom, template: EventTemplate, ts: number): Promise<RoomResult<RoomEvent>> {
    const key = await serverSigningKey(this.env.DB);
    const serverName = loadConfig(this.env).SERVER_NAME;
    let event: RoomEvent;
    try {
      const roomIdInPdu = template.type === "m.room.create" && ROOM_VERSIONS[room.version].roomIdFromCreateEvent ? undefined : room.roomId;
      event = await buildEvent({ roomId: roomIdInPdu, version: room.version, state: room.state, prev: room.latest, serverName, key, ts }, template);
    } catch (err) {
      if (err instanceof InvalidEvent) return fail(err.status, err.errcode, err.message);
      throw err;
    }
    const rejected = checkAuth(room.version, event, authStateFor(event.pdu, room.state));
    if (rejected) return fail(403, "M_FORBIDDEN", rejected);
    return { ok: true, value: event };
  }

  /**
   * A redaction is committed only if its target is in this room, and the sender either sent the target or has the
   * `redact` power level (the auth rules alone do not check this; spec: "Handling redactions").
   * Returns the target's redacted form, or null when the target is unknown (the redaction is kept, as the spec allows).
   */
  private async redactionTarget(
    room: LoadedRoom,
    redaction: RoomEvent,
    targetEventId: string,
  ): Promise<RoomResult<{ targetEventId: string; redactedPdu: Pdu } | null>> {
    const target = await getEventRow(this.env.DB, targetEventId);
    if (!target || target.room_id !== room.roomId) return fail(404, "M_NOT_FOUND", "Event to redact not found in this room");
    const sender = redaction.pdu.sender;
    if (target.sender !== sender) {
      // Stricter than the federation rule (same server suffices there): clients may only redact others' events
      // with the redact level.
      if (userPowerLevel(room.version, sender, room.state) < namedLevel(room.state, "redact")) {
        return fail(403, "M_FORBIDDEN", "You may not redact other users' events");
      }
    }
    if (target.type === "m.room.create") return fail(403, "M_FORBIDDEN", "The create event cannot be redacted");
    return { ok: true, value: { targetEventId, redactedPdu: redactEvent(JSON.parse(target.pdu) as Pdu, room.version) } };
  }

  private async commit(
    room: LoadedRoom,
    events: { event: RoomEvent; unsigned: Record<string, unknown> | null; txn?: SendOptions["txn"]; redaction?: { targetEventId: string; redactedPdu: Pdu } }[],
    extra: D1PreparedStatement[] = [],
    after: D1PreparedStatement[] = [],
  ): Promise<SentEvent[]> {
    const db = this.env.DB;
    const perEvent = events.map((e) =>
      insertEventStatements(db, { eventId: e.event.event_id, roomId: room.roomId, pdu: e.event.pdu, unsigned: e.unsigned, txn: e.txn, redaction: e.redaction }),
    );
    // Output to appservices is planned before the commit and released after it, so a crash in between loses nothing.
    const handOff = planHandOff(this.ctx, this.env, room, events.map((e) => e.event));
    if (handOff !== null) await this.ctx.storage.setAlarm(Date.now() + HAND_OFF_WATCHDOG_MS);
    let results: D1Result[];
    try {
      results = await db.batch([...extra, ...perEvent.flat(), ...after]);
    } catch (err) {
      settleHandOff(this.ctx, this.env, room.roomId, handOff, false);
      throw err;
    }
    settleHandOff(this.ctx, this.env, room.roomId, handOff, true);
    // The first statement of each event's group is its INSERT into events: its rowid is the stream ordering.
    let index = extra.length;
    return events.map((e, i) => {
      const sent = { event_id: e.event.event_id, stream_ordering: results[index]!.meta.last_row_id };
      index += perEvent[i]!.length;
      return sent;
    });
  }

  /** The local members' push rules and ignore lists; on a read failure the event is still sent, uncounted. */
  private pushSettings(room: LoadedRoom, template: EventTemplate): Promise<Map<string, MemberPushSettings> | null> {
    const members = pushRecipients(room.state, loadConfig(this.env).SERVER_NAME, template);
    return pushSettingsOf(this.env.DB, members).catch((err: unknown) => {
      console.error("push rules read failed", err);
      return null;
    });
  }

  /** Output to sync: wakes the waiting /sync of everyone who sees these events, without delaying the sender. */
  private wakeSyncs(room: LoadedRoom, events: RoomEvent[], sent: SentEvent[]): void {
    const position = Math.max(...sent.map((s) => s.stream_ordering));
    this.ctx.waitUntil(notifyUsers(this.env, usersToWake(room, events), position));
  }

  /**
   * The watchdog set at commit time: finishes a hand-off to appservices the process did not live to finish (after a
   * restart, nothing else would wake this room). Loading the room first lets a fresh object settle open plans, in
   * the write queue so no commit is in flight meanwhile.
   */
  override async alarm(): Promise<void> {
    const roomId = outboxRoomId(this.ctx);
    if (roomId === null) return;
    await this.writes.run(() => this.load(roomId));
    if (await finishHandOffs(this.ctx, this.env, roomId)) await this.ctx.storage.setAlarm(Date.now() + HAND_OFF_WATCHDOG_MS);
  }

  /** Loads the room's version, current state and latest event from D1 the first time it is needed. */
  private async load(roomId: string): Promise<LoadedRoom | null> {
    if (this.room?.roomId === roomId) return this.room;
    const row = await getRoom(this.env.DB, roomId);
    if (!row || !isSupportedRoomVersion(row.room_version)) return null;
    const [stateRows, latest] = await Promise.all([getCurrentStateRows(this.env.DB, roomId), getLatestEvent(this.env.DB, roomId)]);
    const state = new Map<string, RoomEvent>();
    for (const r of stateRows) state.set(stateKeyOf(r.type, r.state_key!), toRoomEvent(r));
    this.room = { roomId, version: row.room_version, state, latest: latest && { event_id: latest.event_id, depth: latest.depth } };
    // A fresh object (first use, or after a restart) settles the hand-offs a previous incarnation left open.
    await recoverHandOffs(this.ctx, this.env, roomId);
    return this.room;
  }
}

function toRoomEvent(row: EventRow): RoomEvent {
  return { event_id: row.event_id, pdu: JSON.parse(row.pdu) as Pdu };
}

function apply(room: LoadedRoom, event: RoomEvent): void {
  if (event.pdu.state_key !== undefined) room.state.set(stateKeyOf(event.pdu.type, event.pdu.state_key), event);
  room.latest = { event_id: event.event_id, depth: event.pdu.depth };
}

/**
 * Who must hear about `events` (already applied to `room`): joined and invited members, plus the user each member
 * event is about, so someone kicked, banned or un-invited learns of it too.
 */
function usersToWake(room: LoadedRoom, events: RoomEvent[]): Set<string> {
  const users = new Set<string>();
  for (const event of room.state.values()) {
    const membership = event.pdu.type === "m.room.member" ? event.pdu.content["membership"] : undefined;
    if ((membership === "join" || membership === "invite") && event.pdu.state_key !== undefined) users.add(event.pdu.state_key);
  }
  for (const event of events) {
    if (event.pdu.type === "m.room.member" && event.pdu.state_key !== undefined) users.add(event.pdu.state_key);
  }
  return users;
}

function applyRedaction(room: LoadedRoom, targetEventId: string, redactedPdu: Pdu): void {
  for (const [key, event] of room.state) {
    if (event.event_id === targetEventId) room.state.set(key, { event_id: targetEventId, pdu: redactedPdu });
  }
}

/**
 * Unsigned data fixed when the event is committed: what a state event replaced (prev_content), and for invites
 * and knocks the stripped room state the invitee sees before joining.
 */
function unsignedFor(room: LoadedRoom, event: RoomEvent): Record<string, unknown> | null {
  const unsigned: Record<string, unknown> = {};
  const { pdu } = event;
  if (pdu.state_key !== undefined) {
    const previous = room.state.get(stateKeyOf(pdu.type, pdu.state_key));
    if (previous) {
      unsigned["prev_content"] = previous.pdu.content;
      unsigned["prev_sender"] = previous.pdu.sender;
      unsigned["replaces_state"] = previous.event_id;
    }
  }
  const membership = pdu.type === "m.room.member" ? pdu.content["membership"] : undefined;
  if (membership === "invite") unsigned["invite_room_state"] = strippedState(room.state, pdu.sender);
  if (membership === "knock") unsigned["knock_room_state"] = strippedState(room.state, pdu.sender);
  return Object.keys(unsigned).length > 0 ? unsigned : null;
}
