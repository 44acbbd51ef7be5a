import { afterEach, describe, expect, it } from "vitest";
import { type MatrixClient, type MatrixEvent, MatrixEventEvent, type Room, RoomEvent, SyncState } from "matrix-js-sdk";
import { createClient } from "matrix-js-sdk";
import { CryptoEvent, type ShowSasCallbacks, VerificationPhase, type VerificationRequest, VerifierEvent } from "matrix-js-sdk/lib/crypto-api/index.js";
import { anonymousClient, api, baseUrl, raw, registeredClient, syncUntilPrepared } from "./client";

const running: MatrixClient[] = [];

afterEach(() => {
  for (const client of running.splice(0)) client.stopClient();
});

/** A registered client with matrix-js-sdk's Rust crypto (in memory), syncing, past its first sync. */
async function cryptoClient(prefix: string): Promise<MatrixClient> {
  const { client } = await registeredClient(prefix);
  return startCrypto(client);
}

/** Another device of an existing user: a password login, with its own crypto (and the secret storage key, if any). */
async function secondDevice(username: string, password: string, secretStorageKey?: () => Uint8Array<ArrayBuffer>): Promise<MatrixClient> {
  const res = await anonymousClient().loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: username }, password });
  return startCrypto(
    createClient({
      baseUrl: baseUrl(),
      accessToken: res.access_token,
      userId: res.user_id,
      deviceId: res.device_id,
      cryptoCallbacks: secretStorageKey ? { getSecretStorageKey: async ({ keys }) => [Object.keys(keys)[0]!, secretStorageKey()] } : {},
    }),
  );
}

async function startCrypto(client: MatrixClient): Promise<MatrixClient> {
  await client.initRustCrypto({ useIndexedDB: false });
  running.push(client);
  await syncUntilPrepared(client);
  return client;
}

function until<T>(what: string, check: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      const value = check();
      if (value !== undefined) return resolve(value);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 50);
    };
    poll();
  });
}

async function untilAsync<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The first live event in the room from `sender`, once decrypted (the SDK decrypts asynchronously). */
function decryptedFrom(client: MatrixClient, roomId: string, sender: string): Promise<MatrixEvent> {
  return new Promise((resolve, reject) => {
    const onTimeline = (event: MatrixEvent, room: Room | undefined, toStart: boolean | undefined) => {
      if (room?.roomId !== roomId || toStart || event.getSender() !== sender || event.getWireType() !== "m.room.encrypted") return;
      client.off(RoomEvent.Timeline, onTimeline);
      const done = () => (event.isDecryptionFailure() ? reject(new Error(`could not decrypt: ${JSON.stringify(event.getContent())}`)) : resolve(event));
      if (event.isBeingDecrypted() || event.getType() === "m.room.encrypted") event.once(MatrixEventEvent.Decrypted, done);
      else done();
    };
    client.on(RoomEvent.Timeline, onTimeline);
  });
}

describe("end-to-end encryption with matrix-js-sdk and its Rust crypto", () => {
  it("Alice and Bob exchange messages in an encrypted room and each decrypts the other's", async () => {
    const [alice, bob] = await Promise.all([cryptoClient("e2ealice"), cryptoClient("e2ebob")]);
    const aliceId = alice.getUserId()!;
    const bobId = bob.getUserId()!;

    // Both devices publish keys (soon after their first sync) with a self-signature the server checked.
    for (const [client, userId] of [[alice, aliceId], [bob, bobId]] as const) {
      const devices = await untilAsync(`${userId}'s device keys`, async () => {
        const query = await api("POST", "/_matrix/client/v3/keys/query", { token: client.getAccessToken()!, body: { device_keys: { [userId]: [] } } });
        expect(query.status).toBe(200);
        const keys = Object.keys((query.body["device_keys"] as Record<string, object>)[userId] ?? {});
        return keys.length > 0 ? keys : undefined;
      });
      expect(devices).toEqual([client.getDeviceId()]);
    }

    const { room_id: roomId } = await alice.createRoom({
      name: "Secret",
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await alice.invite(roomId, bobId);
    await until("Bob's invite", () => (bob.getRoom(roomId)?.getMyMembership() === "invite" ? true : undefined));
    await bob.joinRoom(roomId);
    await until("Alice seeing Bob join", () => (alice.getRoom(roomId)?.getMember(bobId)?.membership === "join" ? true : undefined));
    await until("Bob seeing the room encrypted", () => (bob.getRoom(roomId)?.hasEncryptionStateEvent() ? true : undefined));

    const bobGets = decryptedFrom(bob, roomId, aliceId);
    await alice.sendTextMessage(roomId, "hello Bob, secretly");
    expect((await bobGets).getContent()["body"]).toBe("hello Bob, secretly");

    const aliceGets = decryptedFrom(alice, roomId, bobId);
    await bob.sendTextMessage(roomId, "hello Alice, secretly");
    expect((await aliceGets).getContent()["body"]).toBe("hello Alice, secretly");

    // The server only ever saw ciphertext.
    const messages = await api("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=10`, { token: bob.getAccessToken()! });
    const wire = (messages.body["chunk"] as { type: string; content: Record<string, unknown> }[]).filter((e) => e.type === "m.room.encrypted");
    expect(wire.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(messages.body)).not.toContain("secretly");
  });

  it("bootstraps cross-signing without UIA the first time; a second device sees the first one signed by its owner", async () => {
    const { client, username, password } = await registeredClient("e2excs");
    const alice = await startCrypto(client);
    const crypto = alice.getCrypto()!;
    await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: async (makeRequest) => void (await makeRequest(null)) });
    expect(await crypto.isCrossSigningReady()).toBe(true);
    const aliceId = alice.getUserId()!;
    const ownStatus = await crypto.getDeviceVerificationStatus(aliceId, alice.getDeviceId()!);
    expect(ownStatus?.crossSigningVerified).toBe(true);

    const query = await api("POST", "/_matrix/client/v3/keys/query", { token: alice.getAccessToken()!, body: { device_keys: { [aliceId]: [] } } });
    expect(Object.keys(query.body["master_keys"] as object)).toEqual([aliceId]);

    const alice2 = await secondDevice(username, password);
    const seen = await untilAsync("the first device as signed by its owner", async () => {
      const status = await alice2.getCrypto()!.getDeviceVerificationStatus(aliceId, alice.getDeviceId()!);
      return status?.signedByOwner ? status : undefined;
    });
    expect(seen.signedByOwner).toBe(true);
  });

  it("backs up room keys and a new device restores them to read old messages", async () => {
    const { client, username, password } = await registeredClient("e2ebak");
    const alice = await startCrypto(client);
    const crypto = alice.getCrypto()!;
    await crypto.resetKeyBackup();
    const version = await crypto.getActiveSessionBackupVersion();
    expect(version).not.toBeNull();

    const { room_id: roomId } = await alice.createRoom({
      name: "Backed up",
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await until("the room to be encrypted", () => (alice.getRoom(roomId)?.hasEncryptionStateEvent() ? true : undefined));
    await alice.sendTextMessage(roomId, "remember this");
    const info = await untilAsync("the room key in the backup", async () => {
      const res = await api("GET", "/_matrix/client/v3/room_keys/version", { token: alice.getAccessToken()! });
      return (res.body["count"] as number) > 0 ? res.body : undefined;
    });
    expect(info["version"]).toBe(version);
    const backupKey = await crypto.getSessionBackupPrivateKey();
    expect(backupKey).not.toBeNull();

    const alice2 = await secondDevice(username, password);
    await alice2.getCrypto()!.storeSessionBackupPrivateKey(backupKey!, version!);
    const restored = await alice2.getCrypto()!.restoreKeyBackup();
    expect(restored.imported).toBeGreaterThanOrEqual(1);
    const body = await until("the old message decrypted on the new device", () => {
      const event = alice2.getRoom(roomId)?.getLiveTimeline().getEvents().find((e) => e.getWireType() === "m.room.encrypted");
      const text = event?.getType() === "m.room.message" ? event.getContent()["body"] : undefined;
      return typeof text === "string" ? text : undefined;
    });
    expect(body).toBe("remember this");
  });

  it("verifies a new device with emoji (SAS) over to-device messages, and it becomes cross-signed", async () => {
    const { client, username, password } = await registeredClient("e2esas");
    const alice = await startCrypto(client);
    await alice.getCrypto()!.bootstrapCrossSigning({ authUploadDeviceSigningKeys: async (makeRequest) => void (await makeRequest(null)) });
    const alice2 = await secondDevice(username, password);
    const aliceId = alice.getUserId()!;
    // The new device must know the old one before it can ask it.
    await untilAsync("the devices to know each other", async () => {
      const known = await alice2.getCrypto()!.getUserDeviceInfo([aliceId], true);
      return known.get(aliceId)?.has(alice.getDeviceId()!) ? true : undefined;
    });

    const received = new Promise<VerificationRequest>((resolve) => alice.once(CryptoEvent.VerificationRequestReceived, resolve));
    const outgoing = await alice2.getCrypto()!.requestOwnUserVerification();
    const incoming = await received;
    await incoming.accept();
    await until("the request to be ready", () => (outgoing.phase === VerificationPhase.Ready ? true : undefined));

    const confirmWhenShown = (verifier: { on(event: VerifierEvent.ShowSas, cb: (sas: ShowSasCallbacks) => void): unknown }) =>
      verifier.on(VerifierEvent.ShowSas, (sas) => void sas.confirm());
    const verifier2 = await outgoing.startVerification("m.sas.v1");
    confirmWhenShown(verifier2);
    const verifier1 = await until("the other side's verifier", () => incoming.verifier);
    confirmWhenShown(verifier1);
    await Promise.all([verifier1.verify(), verifier2.verify()]);

    // The verified new device signs itself with the self-signing key it received, and Alice's first device sees it.
    const status = await untilAsync("the new device to be cross-signed", async () => {
      const s = await alice.getCrypto()!.getDeviceVerificationStatus(aliceId, alice2.getDeviceId()!);
      return s?.crossSigningVerified ? s : undefined;
    });
    expect(status.crossSigningVerified).toBe(true);
  });

  it("a dehydrated device receives the keys of messages sent while Alice had no device, and a new device rehydrates it", async () => {
    const { username, password } = await registeredClient("e2edehy");
    let recoveryKey: Uint8Array<ArrayBuffer> | undefined;
    const secretStorageKey = () => recoveryKey!;
    // The first device, as a client that can answer for secret storage: cross-signing, secret storage, dehydration.
    const alice = await secondDevice(username, password, secretStorageKey);
    const crypto = alice.getCrypto()!;
    const generated = await crypto.createRecoveryKeyFromPassphrase();
    recoveryKey = generated.privateKey;
    await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: async (makeRequest) => void (await makeRequest(null)) });
    await crypto.bootstrapSecretStorage({ createSecretStorageKey: async () => generated, setupNewSecretStorage: true });
    expect(await crypto.isDehydrationSupported()).toBe(true);
    await crypto.startDehydration({ createNewKey: true, rehydrate: false });
    const dehydrated = await raw("GET", "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device", { token: alice.getAccessToken()! });
    expect(dehydrated.status).toBe(200);
    const dehydratedId = dehydrated.body["device_id"] as string;

    const bob = await cryptoClient("e2edehybob");
    const aliceId = alice.getUserId()!;
    const { room_id: roomId } = await alice.createRoom({
      name: "While you were away",
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await alice.invite(roomId, bob.getUserId()!);
    await until("Bob's invite", () => (bob.getRoom(roomId)?.getMyMembership() === "invite" ? true : undefined));
    await bob.joinRoom(roomId);
    await untilAsync("Bob to know Alice's dehydrated device", async () => {
      const devices = await bob.getCrypto()!.getUserDeviceInfo([aliceId], true);
      return devices.get(aliceId)?.has(dehydratedId) ? true : undefined;
    });

    // Alice signs out her only device; Bob writes to her meanwhile.
    alice.stopClient();
    await alice.logout(true);
    await bob.sendTextMessage(roomId, "sent while you were away");

    const alice2 = await secondDevice(username, password, secretStorageKey);
    const crypto2 = alice2.getCrypto()!;
    // Its own identity must be known before the cross-signing keys can come out of secret storage.
    await untilAsync("the new device to know its own published keys", async () =>
      (await crypto2.getUserDeviceInfo([aliceId], true)).get(aliceId)?.has(alice2.getDeviceId()!) ? true : undefined,
    );
    await crypto2.bootstrapCrossSigning({});
    await crypto2.startDehydration({ rehydrate: true });
    const body = await until("Bob's message decrypted with the rehydrated keys", () => {
      const event = alice2.getRoom(roomId)?.getLiveTimeline().getEvents().find((e) => e.getSender() === bob.getUserId() && e.getWireType() === "m.room.encrypted");
      const text = event?.getType() === "m.room.message" ? event.getContent()["body"] : undefined;
      return typeof text === "string" ? text : undefined;
    });
    expect(body).toBe("sent while you were away");
    // A new dehydrated device replaced the one that was used.
    const replaced = await raw("GET", "/_matrix/client/unstable/org.matrix.msc3814.v1/dehydrated_device", { token: alice2.getAccessToken()! });
    expect(replaced.body["device_id"]).not.toBe(dehydratedId);
  });
});
