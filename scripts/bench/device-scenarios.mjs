// To-device, one-time key claim and media scenarios.
import { generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { pool, registerUser } from "./client.mjs";
import { summarize } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A sends a to-device message to B's device while B long-polls: send start -> B's /sync returns it. */
export async function toDeviceLatency({ base, quick }) {
  const a = await registerUser(base, "tda");
  const b = await registerUser(base, "tdb");
  let since = (await b.sync()).next_batch;
  const samples = [];
  const t0 = performance.now();
  for (let i = 0; i < (quick ? 30 : 100); i++) {
    let poll = b.sync({ since, timeout: 30_000 });
    await sleep(30);
    const start = performance.now();
    const sending = a.sendToDevice("org.example.bench", { [b.userId]: { [b.deviceId]: { n: i } } });
    for (;;) {
      const res = await poll;
      since = res.next_batch;
      await sending;
      if ((res.to_device?.events ?? []).some((e) => e.content?.n === i)) break;
      poll = b.sync({ since, timeout: 30_000 });
    }
    samples.push(performance.now() - start);
  }
  const latency = summarize("to-device latency (send start -> recipient's long-poll returns it)", samples, performance.now() - t0);

  // A burst: A sends many messages (16 requests in flight) while B syncs; throughput is messages B received per second.
  const burst = quick ? 100 : 500;
  const burstStart = performance.now();
  const sent = pool(burst, 16, (i) => a.sendToDevice("org.example.burst", { [b.userId]: { [b.deviceId]: { n: i } } }));
  const seen = new Set();
  while (seen.size < burst) {
    const res = await b.sync({ since, timeout: 5_000 });
    since = res.next_batch;
    for (const e of res.to_device?.events ?? []) if (e.type === "org.example.burst") seen.add(e.content.n);
  }
  const r = await sent;
  const wallMs = performance.now() - burstStart;
  const throughput = summarize(`to-device burst, ${burst} messages (16 sends in flight)`, r.samples, wallMs, `all ${burst} received once in ${(wallMs / 1000).toFixed(1)} s; p50/p99 = send latency`);
  throughput.throughput_per_s = +((burst / wallMs) * 1000).toFixed(1);
  return [latency, throughput];
}

const unpadded = (buf) => buf.toString("base64").replace(/=+$/, "");

/** Canonical JSON (sorted keys, no whitespace), what Matrix signatures cover. */
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Device keys for `client`'s device, self-signed with a fresh ed25519 key, as a real client uploads them. */
export function signedDeviceKeys(client) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const keyId = `ed25519:${client.deviceId}`;
  const keys = {
    user_id: client.userId,
    device_id: client.deviceId,
    algorithms: ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
    keys: { [`curve25519:${client.deviceId}`]: unpadded(randomBytes(32)), [keyId]: unpadded(publicKey.export({ format: "der", type: "spki" }).subarray(-32)) },
  };
  const signature = unpadded(sign(null, Buffer.from(canonicalJson(keys)), privateKey));
  return { ...keys, signatures: { [client.userId]: { [keyId]: signature } } };
}

/** B uploads its device keys and one-time keys; A claims one at a time. */
export async function keysClaim({ base, quick }) {
  const a = await registerUser(base, "kca");
  const b = await registerUser(base, "kcb");
  const n = quick ? 50 : 200;
  const oneTimeKeys = {};
  for (let i = 0; i < n + 10; i++) {
    oneTimeKeys[`signed_curve25519:AAAA${i}`] = { key: randomBytes(32).toString("base64").replace(/=+$/, ""), signatures: { [b.userId]: { [`ed25519:${b.deviceId}`]: "c2lnbmF0dXJl" } } };
  }
  await b.call("POST", "/_matrix/client/v3/keys/upload", { device_keys: signedDeviceKeys(b), one_time_keys: oneTimeKeys });
  const claimed = new Set();
  const r = await pool(n, 1, async () => {
    const res = await a.call("POST", "/_matrix/client/v3/keys/claim", { one_time_keys: { [b.userId]: { [b.deviceId]: "signed_curve25519" } } });
    const keys = Object.keys(res.one_time_keys?.[b.userId]?.[b.deviceId] ?? {});
    if (keys.length !== 1) throw new Error(`claim answered ${JSON.stringify(res)}`);
    if (claimed.has(keys[0])) throw new Error(`key ${keys[0]} handed out twice`);
    claimed.add(keys[0]);
  });
  const q = await pool(n, 1, async () => {
    const res = await a.call("POST", "/_matrix/client/v3/keys/query", { device_keys: { [b.userId]: [] } });
    if (!res.device_keys?.[b.userId]?.[b.deviceId]) throw new Error(`query answered ${JSON.stringify(res)}`);
  });
  return [
    summarize("keys/claim (one signed_curve25519 key)", r.samples, r.wallMs, `${n} distinct keys claimed`),
    summarize("keys/query (one user, one device)", q.samples, q.wallMs),
  ];
}

/** Upload then authenticated download of a 10 MB file, a few times; MB/s from the median run. */
export async function mediaThroughput({ base, quick }) {
  const user = await registerUser(base, "media");
  const size = 10 * 1024 * 1024;
  const data = randomBytes(size);
  const runs = quick ? 2 : 5;
  const up = [];
  const down = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    const res = await fetch(`${base}/_matrix/media/v3/upload?filename=bench.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${user.token}`, "content-type": "application/octet-stream" },
      body: data,
      signal: AbortSignal.timeout(60_000),
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`upload -> ${res.status} ${JSON.stringify(json)}`);
    up.push(performance.now() - t);
    const [serverName, mediaId] = json.content_uri.slice("mxc://".length).split("/");
    t = performance.now();
    const dl = await fetch(`${base}/_matrix/client/v1/media/download/${serverName}/${mediaId}`, { headers: { authorization: `Bearer ${user.token}` }, signal: AbortSignal.timeout(60_000) });
    const body = Buffer.from(await dl.arrayBuffer());
    down.push(performance.now() - t);
    if (!dl.ok || !body.equals(data)) throw new Error(`download -> ${dl.status}, ${body.length} bytes, not the uploaded bytes`);
  }
  const mbps = (samples) => +((size / 1024 / 1024) / (samples.sort((x, y) => x - y)[Math.floor(samples.length / 2)] / 1000)).toFixed(1);
  return [
    { ...summarize("media upload 10 MB", up, up.reduce((x, y) => x + y, 0)), throughput_per_s: "", note: `${mbps(up)} MB/s (median run)` },
    { ...summarize("media download 10 MB (authenticated)", down, down.reduce((x, y) => x + y, 0)), throughput_per_s: "", note: `${mbps(down)} MB/s (median run), bytes checked` },
  ];
}

