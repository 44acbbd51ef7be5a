/** The spec's cryptographic test vectors (appendices: "Cryptographic Test Vectors"), shared by the room tests. */
import type { Pdu } from "../../src/rooms/pdu";
import type { SigningKey } from "../../src/rooms/signing";
import { decodeBase64 } from "../../src/util/base64";

export const SERVER_NAME = "domain";

export const SPEC_KEY: SigningKey = {
  keyId: "ed25519:1",
  seed: decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"),
};

/**
 * The vectors predate the current event format (they carry `origin` and `event_id`, and the second lacks
 * `prev_events`, `auth_events` and `depth`), so they are not Pdus by type; the code only reads what is there.
 * Their hashes and signatures follow the redaction rules that still keep `origin`, room version 10's here.
 */
function asPdu(json: Record<string, unknown>): Pdu {
  return json as unknown as Pdu;
}

export const MINIMAL_EVENT = asPdu({
  room_id: "!x:domain",
  sender: "@a:domain",
  origin: "domain",
  origin_server_ts: 1000000,
  signatures: {},
  hashes: {},
  type: "X",
  content: {},
  prev_events: [],
  auth_events: [],
  depth: 3,
  unsigned: { age_ts: 1000000 },
});

export const MINIMAL_EVENT_SIGNED = asPdu({
  auth_events: [],
  content: {},
  depth: 3,
  hashes: { sha256: "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos" },
  origin: "domain",
  origin_server_ts: 1000000,
  prev_events: [],
  room_id: "!x:domain",
  sender: "@a:domain",
  signatures: {
    domain: {
      "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg",
    },
  },
  type: "X",
  unsigned: { age_ts: 1000000 },
});

export const MESSAGE_EVENT = asPdu({
  content: { body: "Here is the message content" },
  event_id: "$0:domain",
  origin: "domain",
  origin_server_ts: 1000000,
  type: "m.room.message",
  room_id: "!r:domain",
  sender: "@u:domain",
  signatures: {},
  unsigned: { age_ts: 1000000 },
});

export const MESSAGE_EVENT_SIGNED = asPdu({
  content: { body: "Here is the message content" },
  event_id: "$0:domain",
  hashes: { sha256: "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g" },
  origin: "domain",
  origin_server_ts: 1000000,
  type: "m.room.message",
  room_id: "!r:domain",
  sender: "@u:domain",
  signatures: {
    domain: {
      "ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA",
    },
  },
  unsigned: { age_ts: 1000000 },
});
