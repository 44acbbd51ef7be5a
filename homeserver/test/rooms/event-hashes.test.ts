import { describe, expect, it } from "vitest";
import { contentHash, eventIdFor, referenceHash, roomIdFromCreateEvent, verifyContentHash } from "../../src/rooms/event-hashes";
import type { Pdu } from "../../src/rooms/pdu";
import { redactEvent } from "../../src/rooms/redaction";
import { encodeBase64Url } from "../../src/util/base64";
import { MESSAGE_EVENT, MESSAGE_EVENT_SIGNED, MINIMAL_EVENT, MINIMAL_EVENT_SIGNED } from "./spec-vectors";

/**
 * The expected event ids below were computed outside this code base, with the spec's Python `canonical_json`
 * and hashlib over the redacted event written out by hand.
 */
const MESSAGE: Pdu = {
  auth_events: ["$create", "$power"],
  content: { body: "hello", msgtype: "m.text" },
  depth: 5,
  hashes: { sha256: "aGFzaA" },
  origin: "example.org",
  origin_server_ts: 1_700_000_000_000,
  prev_events: ["$prev"],
  room_id: "!room:example.org",
  sender: "@alice:example.org",
  signatures: { "example.org": { "ed25519:1": "c2ln" } },
  type: "m.room.message",
  unsigned: { age_ts: 1 },
};

const V12_CREATE: Pdu = {
  auth_events: [],
  content: { room_version: "12", additional_creators: ["@bob:example.com"], "m.federate": true },
  depth: 1,
  hashes: { sha256: "aGFzaA" },
  origin_server_ts: 1_700_000_000_000,
  prev_events: [],
  sender: "@alice:example.org",
  signatures: {},
  state_key: "",
  type: "m.room.create",
};

describe("content hash", () => {
  it("matches the spec's event signing vectors", async () => {
    expect(await contentHash(MINIMAL_EVENT)).toBe("5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
    expect(await contentHash(MESSAGE_EVENT)).toBe("onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g");
  });

  it("leaves out hashes, signatures and unsigned", async () => {
    const changed = { ...MINIMAL_EVENT_SIGNED, unsigned: { age_ts: 5 }, signatures: {}, hashes: { sha256: "x" } };
    expect(await contentHash(changed)).toBe("5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
  });

  it("is verified against the event's hashes.sha256", async () => {
    expect(await verifyContentHash(MINIMAL_EVENT_SIGNED)).toBe(true);
    expect(await verifyContentHash(MESSAGE_EVENT_SIGNED)).toBe(true);
  });

  it("accepts a padded hashes.sha256, as base64 decoders should", async () => {
    const padded = { ...MINIMAL_EVENT_SIGNED, hashes: { sha256: "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos=" } };
    expect(await verifyContentHash(padded)).toBe(true);
  });

  it("fails for changed content, a redacted copy, or a hash that is not base64", async () => {
    expect(await verifyContentHash({ ...MESSAGE_EVENT_SIGNED, content: { body: "Here is other content" } })).toBe(false);
    expect(await verifyContentHash(redactEvent(MESSAGE_EVENT_SIGNED, "10"))).toBe(false);
    expect(await verifyContentHash({ ...MINIMAL_EVENT_SIGNED, hashes: { sha256: "not base64!" } })).toBe(false);
  });
});

describe("reference hash and event id", () => {
  it("matches ids computed independently from the spec's algorithm", async () => {
    expect(await eventIdFor(MESSAGE, "10")).toBe("$QhPimDfDuxQvaR1JBmRMXzqoAsK4FcdnOvkwtttEqtY");
    expect(await eventIdFor(MESSAGE, "11")).toBe("$D8UrK0V1betY_x1Whi2cGgtp8nJRmwhOa8iMYOfSjjE");
    expect(await eventIdFor(MESSAGE, "12")).toBe("$D8UrK0V1betY_x1Whi2cGgtp8nJRmwhOa8iMYOfSjjE");
    expect(await eventIdFor(V12_CREATE, "12")).toBe("$BJG4_8ybQwDoldxeU4c7YTjVQJAwtBAwLzCvdwNiCjs");
  });

  it("is `$` and the URL-safe unpadded base64 of the reference hash", async () => {
    const hash = await referenceHash(MESSAGE, "11");
    expect(hash.byteLength).toBe(32);
    expect(await eventIdFor(MESSAGE, "11")).toBe(`$${encodeBase64Url(hash)}`);
  });

  it("does not change when the event is redacted", async () => {
    for (const version of ["10", "11", "12"] as const) {
      expect(await eventIdFor(redactEvent(MESSAGE, version), version)).toBe(await eventIdFor(MESSAGE, version));
    }
  });

  it("does not cover signatures or unsigned", async () => {
    const resent = { ...MESSAGE, signatures: { "other.org": { "ed25519:x": "eA" } }, unsigned: { age_ts: 99 } };
    expect(await eventIdFor(resent, "11")).toBe(await eventIdFor(MESSAGE, "11"));
  });

  it("covers the content through hashes", async () => {
    const rehashed = { ...MESSAGE, hashes: { sha256: "b3RoZXI" } };
    expect(await eventIdFor(rehashed, "11")).not.toBe(await eventIdFor(MESSAGE, "11"));
  });

  it("covers origin in v10 only, as v11 stopped protecting it from redaction", async () => {
    const elsewhere = { ...MESSAGE, origin: "elsewhere.org" };
    expect(await eventIdFor(elsewhere, "10")).not.toBe(await eventIdFor(MESSAGE, "10"));
    expect(await eventIdFor(elsewhere, "11")).toBe(await eventIdFor(MESSAGE, "11"));
  });
});

describe("v12 room id", () => {
  it("is the create event's id with `!` for `$`", async () => {
    const createId = await eventIdFor(V12_CREATE, "12");
    expect(roomIdFromCreateEvent(createId)).toBe("!BJG4_8ybQwDoldxeU4c7YTjVQJAwtBAwLzCvdwNiCjs");
  });

  it("refuses something that is not an event id", () => {
    expect(() => roomIdFromCreateEvent("!BJG4_8ybQwDoldxeU4c7YTjVQJAwtBAwLzCvdwNiCjs")).toThrow();
  });
});
