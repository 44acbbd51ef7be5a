/**
 * Fixtures for the authorization rule tests: PDUs with fake hashes and signatures (the rules never check them)
 * and a small in-memory room whose state the tests grow event by event.
 */
import { type AuthEvent, authEventTypesFor, checkAuth, stateKeyOf } from "../../src/rooms/auth-rules";
import type { Pdu, RoomVersionId } from "../../src/rooms/pdu";

export const ALICE = "@alice:a.example";
export const BOB = "@bob:b.example";
export const CAROL = "@carol:c.example";
/** On the creator's server, to tell "same server" from "same user". */
export const DAVE = "@dave:a.example";

export const VERSIONS: RoomVersionId[] = ["10", "11", "12"];

let counter = 0;

/** A PDU signed (fakely) by the sender's server. */
export function makePdu(fields: Partial<Pdu> & Pick<Pdu, "type" | "sender">): Pdu {
  const serverName = fields.sender.slice(fields.sender.indexOf(":") + 1);
  return {
    origin_server_ts: 1_700_000_000_000 + counter,
    content: {},
    prev_events: [],
    auth_events: [],
    depth: 1,
    hashes: { sha256: "fakehash" },
    signatures: { [serverName]: { "ed25519:fake": "fakesignature" } },
    ...fields,
  };
}

/** Create-event content a real server would write for this version (v10 still needs `creator`). */
export function createContent(version: RoomVersionId, creator = ALICE): Record<string, unknown> {
  return version === "10" ? { room_version: version, creator } : { room_version: version };
}

/** The create event of a new room; in v12 the room id is derived from its event id. */
export function makeCreate(version: RoomVersionId, content = createContent(version), sender = ALICE): AuthEvent {
  const eventId = `$create${(counter++).toString(36)}`;
  const roomId = version === "12" ? undefined : `!room${counter.toString(36)}:a.example`;
  return { event_id: eventId, pdu: makePdu({ type: "m.room.create", sender, state_key: "", content, room_id: roomId }) };
}

export interface EventOptions {
  stateKey?: string;
  /** Overrides of PDU fields (prev_events, signatures, room_id, ...). */
  pdu?: Partial<Pdu>;
}

export class TestRoom {
  readonly state = new Map<string, AuthEvent>();
  readonly roomId: string;
  private latest: AuthEvent;

  constructor(
    readonly version: RoomVersionId,
    readonly create: AuthEvent = makeCreate(version),
  ) {
    this.roomId = create.pdu.room_id ?? `!${create.event_id.slice(1)}`;
    this.latest = this.apply(create);
  }

  /** An event in this room after the latest one, citing the auth events the selection asks for. */
  event(type: string, sender: string, content: Record<string, unknown>, options: EventOptions = {}): AuthEvent {
    const partial = { type, sender, content, ...(options.stateKey === undefined ? {} : { state_key: options.stateKey }) };
    const authEvents = authEventTypesFor(this.version, partial).flatMap(([t, k]) => {
      const authEvent = this.state.get(stateKeyOf(t, k));
      return authEvent ? [authEvent.event_id] : [];
    });
    const pdu = makePdu({
      ...partial,
      room_id: this.roomId,
      prev_events: [this.latest.event_id],
      auth_events: authEvents,
      depth: this.latest.pdu.depth + 1,
      ...options.pdu,
    });
    return { event_id: `$${type}${(counter++).toString(36)}`, pdu };
  }

  member(target: string, membership: string, sender = target, extra: Record<string, unknown> = {}): AuthEvent {
    return this.event("m.room.member", sender, { membership, ...extra }, { stateKey: target });
  }

  check(event: AuthEvent): string | null {
    return checkAuth(this.version, event, this.state);
  }

  /** Puts an event into the state without checking it: for setting up states the rules would not reach. */
  apply(event: AuthEvent): AuthEvent {
    if (event.pdu.state_key !== undefined) this.state.set(stateKeyOf(event.pdu.type, event.pdu.state_key), event);
    this.latest = event;
    return event;
  }

  /** Checks and applies an event; set-up steps must pass the rules themselves. */
  send(event: AuthEvent): AuthEvent {
    const rejection = this.check(event);
    if (rejection !== null) throw new Error(`fixture event ${event.pdu.type} was rejected: ${rejection}`);
    return this.apply(event);
  }

  /** Joins a user through an invite from the creator. */
  join(userId: string): void {
    this.send(this.member(userId, "invite", ALICE));
    this.send(this.member(userId, "join"));
  }
}

export interface RoomOptions {
  joinRule?: string;
  /** Power levels content; by default Alice at 100 (v10/v11) or as creator (v12), everything else default. */
  powerLevels?: Record<string, unknown>;
  create?: AuthEvent;
}

/** A room as created by Alice: create, her join, join rules and power levels. */
export function standardRoom(version: RoomVersionId, options: RoomOptions = {}): TestRoom {
  const room = new TestRoom(version, options.create ?? makeCreate(version));
  room.send(room.member(ALICE, "join"));
  // Join rules first: power levels may lower Alice below the state default in v10/v11.
  room.send(room.event("m.room.join_rules", ALICE, { join_rule: options.joinRule ?? "invite" }, { stateKey: "" }));
  const powerLevels = options.powerLevels ?? (version === "12" ? { users: {} } : { users: { [ALICE]: 100 } });
  room.send(room.event("m.room.power_levels", ALICE, powerLevels, { stateKey: "" }));
  return room;
}
