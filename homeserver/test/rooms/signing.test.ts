import { describe, expect, it } from "vitest";
import { verifyContentHash } from "../../src/rooms/event-hashes";
import type { Pdu } from "../../src/rooms/pdu";
import { redactEvent } from "../../src/rooms/redaction";
import {
  generateSigningKey,
  hashAndSignEvent,
  publicKeyOf,
  signEvent,
  signJson,
  verifyEventSignature,
  verifyJsonSignature,
} from "../../src/rooms/signing";
import { decodeBase64 } from "../../src/util/base64";
import { MESSAGE_EVENT, MESSAGE_EVENT_SIGNED, MINIMAL_EVENT, MINIMAL_EVENT_SIGNED, SERVER_NAME, SPEC_KEY } from "./spec-vectors";

const SIGNED_EMPTY = {
  signatures: {
    domain: {
      "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ",
    },
  },
};

const SIGNED_ONE_TWO = {
  one: 1,
  signatures: {
    domain: {
      "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw",
    },
  },
  two: "Two",
};

const MESSAGE_V11: Pdu = {
  auth_events: ["$create"],
  content: { body: "hello", msgtype: "m.text" },
  depth: 2,
  hashes: { sha256: "" },
  origin_server_ts: 1_700_000_000_000,
  prev_events: ["$create"],
  room_id: "!room:example.org",
  sender: "@alice:example.org",
  signatures: {},
  type: "m.room.message",
};

describe("signing JSON: the spec's vectors (appendices, JSON Signing)", () => {
  it("signs the empty object", async () => {
    expect(await signJson({}, SERVER_NAME, SPEC_KEY)).toEqual(SIGNED_EMPTY);
  });

  it("signs an object with data values", async () => {
    expect(await signJson({ one: 1, two: "Two" }, SERVER_NAME, SPEC_KEY)).toEqual(SIGNED_ONE_TWO);
  });

  it("verifies the spec's signatures with the public key of the spec's seed", async () => {
    const publicKey = await publicKeyOf(SPEC_KEY.seed);
    expect(await verifyJsonSignature(SIGNED_EMPTY, SERVER_NAME, "ed25519:1", publicKey)).toBe(true);
    expect(await verifyJsonSignature(SIGNED_ONE_TWO, SERVER_NAME, "ed25519:1", publicKey)).toBe(true);
  });
});

describe("signing JSON: rules", () => {
  it("keeps earlier signatures and unsigned, and does not sign unsigned", async () => {
    const obj = { one: 1, two: "Two", unsigned: { age_ts: 5 }, signatures: { "other.org": { "ed25519:a": "b3RoZXI" } } };
    const signed = await signJson(obj, SERVER_NAME, SPEC_KEY);
    expect(signed).toEqual({
      ...obj,
      signatures: { "other.org": { "ed25519:a": "b3RoZXI" }, domain: SIGNED_ONE_TWO.signatures.domain },
    });
  });

  it("adds a second key's signature beside the first for the same server", async () => {
    const second = generateSigningKey();
    const signed = await signJson(SIGNED_EMPTY, SERVER_NAME, second);
    expect(Object.keys(signed.signatures.domain ?? {}).sort()).toEqual(["ed25519:1", second.keyId].sort());
  });

  it("does not modify the object it is given", async () => {
    const obj = { a: 1, signatures: { "other.org": { "ed25519:a": "b3RoZXI" } } };
    const before = structuredClone(obj);
    await signJson(obj, SERVER_NAME, SPEC_KEY);
    expect(obj).toEqual(before);
  });

  it("still verifies when unsigned or other servers' signatures change", async () => {
    const publicKey = await publicKeyOf(SPEC_KEY.seed);
    const changed = {
      ...SIGNED_ONE_TWO,
      unsigned: { age: 1 },
      signatures: { ...SIGNED_ONE_TWO.signatures, "other.org": { "ed25519:a": "b3RoZXI" } },
    };
    expect(await verifyJsonSignature(changed, SERVER_NAME, "ed25519:1", publicKey)).toBe(true);
  });

  it("fails verification for a changed value, a missing signature, another key or algorithm, or bad base64", async () => {
    const publicKey = await publicKeyOf(SPEC_KEY.seed);
    expect(await verifyJsonSignature({ ...SIGNED_ONE_TWO, one: 2 }, SERVER_NAME, "ed25519:1", publicKey)).toBe(false);
    expect(await verifyJsonSignature(SIGNED_ONE_TWO, "other.org", "ed25519:1", publicKey)).toBe(false);
    expect(await verifyJsonSignature(SIGNED_ONE_TWO, SERVER_NAME, "ed25519:2", publicKey)).toBe(false);
    expect(await verifyJsonSignature({ signatures: { domain: { "curve25519:1": "eA" } } }, SERVER_NAME, "curve25519:1", publicKey)).toBe(false);
    expect(await verifyJsonSignature({ signatures: { domain: { "ed25519:1": "!!" } } }, SERVER_NAME, "ed25519:1", publicKey)).toBe(false);
    expect(await verifyJsonSignature(SIGNED_ONE_TWO, SERVER_NAME, "ed25519:1", await publicKeyOf(generateSigningKey().seed))).toBe(false);
  });
});

describe("signing keys", () => {
  it("generates a fresh ed25519 key with a valid key version", async () => {
    const key = generateSigningKey();
    expect(key.keyId).toMatch(/^ed25519:[a-zA-Z0-9_]+$/);
    expect(key.seed.byteLength).toBe(32);
    expect(generateSigningKey().seed).not.toEqual(key.seed);
    const signed = await signJson({ a: 1 }, "example.org", key);
    expect(await verifyJsonSignature(signed, "example.org", key.keyId, await publicKeyOf(key.seed))).toBe(true);
  });

  it("publishes the 32-byte public key as unpadded base64", async () => {
    const publicKey = await publicKeyOf(SPEC_KEY.seed);
    expect(publicKey).not.toContain("=");
    expect(decodeBase64(publicKey).byteLength).toBe(32);
  });
});

describe("signing events: the spec's vectors (appendices, Event Signing)", () => {
  it("hashes and signs the minimal event", async () => {
    expect(await hashAndSignEvent(MINIMAL_EVENT, "10", SERVER_NAME, SPEC_KEY)).toEqual(MINIMAL_EVENT_SIGNED);
  });

  it("hashes and signs the event with redactable content", async () => {
    expect(await hashAndSignEvent(MESSAGE_EVENT, "10", SERVER_NAME, SPEC_KEY)).toEqual(MESSAGE_EVENT_SIGNED);
  });

  it("verifies the spec's signed events, and their redacted copies", async () => {
    const publicKey = await publicKeyOf(SPEC_KEY.seed);
    for (const event of [MINIMAL_EVENT_SIGNED, MESSAGE_EVENT_SIGNED]) {
      expect(await verifyEventSignature(event, "10", SERVER_NAME, "ed25519:1", publicKey)).toBe(true);
      expect(await verifyEventSignature(redactEvent(event, "10"), "10", SERVER_NAME, "ed25519:1", publicKey)).toBe(true);
    }
  });
});

describe("signing events: rules", () => {
  it("signs the redacted form: changed content keeps the signature but fails the content hash", async () => {
    const publicKey = await publicKeyOf(SPEC_KEY.seed);
    const signed = await hashAndSignEvent(MESSAGE_V11, "11", SERVER_NAME, SPEC_KEY);
    const tampered = { ...signed, content: { body: "changed", msgtype: "m.text" } };
    expect(await verifyEventSignature(tampered, "11", SERVER_NAME, "ed25519:1", publicKey)).toBe(true);
    expect(await verifyContentHash(tampered)).toBe(false);
  });

  it("signature covers hashes, so replacing the content hash breaks it", async () => {
    const publicKey = await publicKeyOf(SPEC_KEY.seed);
    const signed = await hashAndSignEvent(MESSAGE_V11, "11", SERVER_NAME, SPEC_KEY);
    const rehashed = { ...signed, hashes: { sha256: "b3RoZXI" } };
    expect(await verifyEventSignature(rehashed, "11", SERVER_NAME, "ed25519:1", publicKey)).toBe(false);
  });

  it("covers origin in v10 but not in v11", async () => {
    const publicKey = await publicKeyOf(SPEC_KEY.seed);
    const withOrigin = { ...MESSAGE_V11, origin: "example.org" };
    for (const [version, survives] of [["10", false], ["11", true]] as const) {
      const signed = await hashAndSignEvent(withOrigin, version, SERVER_NAME, SPEC_KEY);
      const moved = { ...signed, origin: "elsewhere.org" };
      expect(await verifyEventSignature(moved, version, SERVER_NAME, "ed25519:1", publicKey)).toBe(survives);
    }
  });

  it("keeps the unsigned data and earlier signatures of the event", async () => {
    const withExtras = { ...MESSAGE_V11, unsigned: { age_ts: 1 }, signatures: { "other.org": { "ed25519:a": "b3RoZXI" } } };
    const signed = await signEvent(withExtras, "11", SERVER_NAME, SPEC_KEY);
    expect(signed.unsigned).toEqual({ age_ts: 1 });
    expect(signed.signatures["other.org"]).toEqual({ "ed25519:a": "b3RoZXI" });
    expect(signed.signatures[SERVER_NAME]?.["ed25519:1"]).toMatch(/^[A-Za-z0-9+/]{86}$/);
  });
});
