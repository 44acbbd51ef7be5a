// The Discord bridge under load: its own Worker (bridge enabled, fresh state) and the end-to-end tests' fake Discord
// (test/e2e/fake-discord.ts, compiled on the fly with wrangler's esbuild), the person as a plain HTTP client.
// Rows: Discord -> Element latency (fake gateway dispatch -> the person's /sync answers with it), Element -> Discord
// latency (send -> the fake's REST receives the post), and the messages per second one portal sustains.
// `node scripts/bench/discord.mjs [--short]` runs it alone; bench.mjs runs it as the "discord" scenario.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { freePort } from "./appservice.mjs";
import { Client, call } from "./client.mjs";
import { removeDir, stopAndWait } from "./lifecycle.mjs";
import { row, summarize } from "./stats.mjs";
import { applyMigrations, root, startWorker } from "../worker.mjs";

const BOT_TOKEN = "bench-discord-bot-token";
const GUILD = "600000000000000001";
const CHANNEL = "700000000000000100";
const author = { id: "310000000000000042", username: "alice", discriminator: "0", global_name: "Alice", avatar: null };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The e2e fake, bundled to plain ESM next to node_modules (so its `ws` import resolves). */
async function loadFakeDiscord() {
  const outdir = path.join(root, "node_modules", ".cache", "bench");
  mkdirSync(outdir, { recursive: true });
  const outfile = path.join(outdir, "fake-discord.mjs");
  await build({ entryPoints: [path.join(root, "test/e2e/fake-discord.ts")], bundle: true, platform: "node", format: "esm", packages: "external", outfile, logLevel: "error" });
  return (await import(`${pathToFileURL(outfile).href}?t=${Date.now()}`)).FakeDiscord;
}

/** Waits until `probe()` is truthy, polling every millisecond (the fake lives in this process). */
async function until(what, probe, timeoutMs = 60_000) {
  const deadline = performance.now() + timeoutMs;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

/** Long-polls /sync until a timeline event of `roomId` satisfies `match`; answers the next since token. */
async function syncUntil(person, since, roomId, match) {
  for (;;) {
    const res = await person.sync({ since, timeout: 30_000, filter: { room: { rooms: [roomId], timeline: { limit: 1000 } } } });
    since = res.next_batch;
    const events = res.rooms?.join?.[roomId]?.timeline?.events ?? [];
    if (events.some(match)) return since;
  }
}

export async function discordScenario({ quick }) {
  const FakeDiscord = await loadFakeDiscord();
  const discord = new FakeDiscord(BOT_TOKEN);
  discord.channels.set(CHANNEL, { id: CHANNEL, type: 0, guild_id: GUILD, name: "general", position: 0 });
  discord.guilds.set(GUILD, { id: GUILD, name: "Bench Guild" });
  await discord.start();
  const persistTo = mkdtempSync(path.join(tmpdir(), "matrix-bench-discord-"));
  applyMigrations(persistTo);
  const port = await freePort();
  const owner = "@benchperson:localhost";
  const registration = {
    id: "discord",
    url: `http://127.0.0.1:${port}/_bridges/discord`,
    as_token: "${DISCORD_AS_TOKEN}",
    hs_token: "${DISCORD_HS_TOKEN}",
    sender_localpart: "_discord_bot",
    rate_limited: false,
    namespaces: { users: [{ exclusive: true, regex: "@_discord_.*:localhost" }] },
  };
  const worker = await startWorker({
    port,
    inspectorPort: await freePort(),
    persistTo,
    vars: {
      RATE_LIMIT_ENABLED: "false",
      SERVER_NAME: "localhost",
      PUBLIC_BASEURL: `http://127.0.0.1:${port}/`,
      APPSERVICES: JSON.stringify([registration]),
      DISCORD_BRIDGE_ENABLED: "true",
      DISCORD_BRIDGE_OWNER: owner,
      DISCORD_API_BASE_URL: discord.apiBaseUrl,
      DISCORD_CDN_BASE_URL: discord.cdnBaseUrl,
      DISCORD_BOT_TOKEN: BOT_TOKEN,
      DISCORD_AS_TOKEN: "bench-discord-as",
      DISCORD_HS_TOKEN: "bench-discord-hs",
      DISCORD_BACKFILL_LIMIT: "0",
    },
  });
  try {
    const session = await call(worker.baseUrl, "POST", "/_matrix/client/v3/register", {
      body: { username: "benchperson", password: "bench password", auth: { type: "m.login.dummy" } },
    });
    const person = new Client(worker.baseUrl, { username: "benchperson", userId: session.user_id, token: session.access_token, deviceId: session.device_id });
    await until("IDENTIFY", () => discord.connected === 1);

    // The management room: `bridge <guild>` opens the portal; the person joins it.
    const bot = "@_discord_bot:localhost";
    const management = await person.createRoom({ invite: [bot], is_direct: true });
    let since = (await person.sync({ filter: { room: { timeline: { limit: 1 } } } })).next_batch;
    for (let joined = false; !joined; ) {
      const members = await person.call("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(management)}/joined_members`);
      joined = bot in (members.joined ?? {});
      if (!joined) await sleep(50);
    }
    await person.send(management, { msgtype: "m.text", body: `bridge ${GUILD}` });
    let portal;
    while (portal === undefined) {
      const res = await person.sync({ since, timeout: 30_000 });
      since = res.next_batch;
      portal = Object.entries(res.rooms?.invite ?? {}).find(([, room]) =>
        room.invite_state?.events?.some((e) => e.type === "m.room.name" && e.content?.name === "general"),
      )?.[0];
    }
    await person.join(portal);
    since = await syncUntil(person, since, portal, (e) => e.type === "m.room.member" && e.state_key === owner);

    const rounds = quick ? 20 : 200;
    // Warm-up: the ghost's first message registers and joins it.
    discord.userMessage(CHANNEL, author, "warm-up");
    since = await syncUntil(person, since, portal, (e) => e.content?.body === "warm-up");

    const d2e = [];
    const d2eStart = performance.now();
    for (let i = 0; i < rounds; i++) {
      const body = `d2e ${i}`;
      const t0 = performance.now();
      discord.userMessage(CHANNEL, author, body);
      since = await syncUntil(person, since, portal, (e) => e.content?.body === body);
      d2e.push(performance.now() - t0);
    }
    const d2eWall = performance.now() - d2eStart;

    const e2d = [];
    const e2dStart = performance.now();
    for (let i = 0; i < rounds; i++) {
      const before = discord.posted.length;
      const t0 = performance.now();
      await person.send(portal, { msgtype: "m.text", body: `e2d ${i}` });
      await until("the post at Discord", () => discord.posted.length > before);
      e2d.push(performance.now() - t0);
    }
    const e2dWall = performance.now() - e2dStart;

    // Sustained: a burst dispatched at once; the time until the person's /sync has the last of it.
    const burst = quick ? 200 : 1000;
    const t0 = performance.now();
    for (let i = 0; i < burst; i++) discord.userMessage(CHANNEL, author, `burst ${i}`);
    await syncUntil(person, since, portal, (e) => e.content?.body === `burst ${burst - 1}`);
    const burstMs = performance.now() - t0;

    return [
      summarize("discord -> element latency (dispatch -> /sync)", d2e, d2eWall, "one message at a time"),
      summarize("element -> discord latency (send -> fake REST)", e2d, e2dWall, "one message at a time"),
      row("discord bridge sustained, one portal", {
        n: burst,
        throughput_per_s: +((burst / burstMs) * 1000).toFixed(1),
        note: `${burst} dispatched at once, all in /sync after ${(burstMs / 1000).toFixed(1)} s`,
      }),
    ];
  } finally {
    await stopAndWait(worker.child);
    await discord.stop();
    removeDir(persistTo);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const quick = process.argv.includes("--short") || process.argv.includes("--quick");
  const rows = await discordScenario({ quick });
  const columns = ["scenario", "n", "p50_ms", "p99_ms", "max_ms", "throughput_per_s", "note"];
  console.log(`| ${columns.join(" | ")} |`);
  console.log(`| ${columns.map(() => "---").join(" | ")} |`);
  for (const r of rows) console.log(`| ${columns.map((c) => r[c]).join(" | ")} |`);
}
