// The Slack bridge under load: its own Worker (bridge enabled, fresh state) and the end-to-end tests' fake Slack
// (test/e2e/fake-slack.ts, compiled on the fly with esbuild), the person as a plain HTTP client.
// Rows: Slack -> Element latency (signed Events API delivery -> the person's /sync answers with it), Element -> Slack
// latency (send -> the fake Web API receives chat.postMessage), and the messages per second one portal sustains.
// `node scripts/bench/slack.mjs [--short]` runs it alone; bench.mjs runs it as the "slack" scenario.
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

const BOT_TOKEN = "xoxb-bench-slack-bot";
const USER_TOKEN = "xoxp-bench-slack-user";
const SIGNING_SECRET = "bench-slack-signing-secret";
const CHANNEL = "C0100";
const ALICE = "U0042";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The e2e fake, bundled to plain ESM next to node_modules (so its `ws` import resolves). */
async function loadFakeSlack() {
  const outdir = path.join(root, "node_modules", ".cache", "bench");
  mkdirSync(outdir, { recursive: true });
  const outfile = path.join(outdir, "fake-slack.mjs");
  await build({ entryPoints: [path.join(root, "test/e2e/fake-slack.ts")], bundle: true, platform: "node", format: "esm", packages: "external", outfile, logLevel: "error" });
  return (await import(`${pathToFileURL(outfile).href}?t=${Date.now()}`)).FakeSlack;
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

export async function slackScenario({ quick }) {
  const FakeSlack = await loadFakeSlack();
  const slack = new FakeSlack({ bot: BOT_TOKEN, user: USER_TOKEN }, SIGNING_SECRET);
  await slack.start();
  slack.channels.set(CHANNEL, { id: CHANNEL, name: "general" });
  slack.users.set(ALICE, { id: ALICE, name: "alice", profile: { display_name: "Alice" } });
  const persistTo = mkdtempSync(path.join(tmpdir(), "matrix-bench-slack-"));
  applyMigrations(persistTo);
  const port = await freePort();
  const owner = "@benchperson:localhost";
  const registration = {
    id: "slack",
    url: `http://127.0.0.1:${port}/_bridges/slack`,
    as_token: "${SLACK_AS_TOKEN}",
    hs_token: "${SLACK_HS_TOKEN}",
    sender_localpart: "_slack_bot",
    rate_limited: false,
    namespaces: { users: [{ exclusive: true, regex: "@_slack_.*:localhost" }] },
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
      SLACK_BRIDGE_ENABLED: "true",
      SLACK_BRIDGE_OWNER: owner,
      SLACK_API_BASE_URL: slack.apiBaseUrl,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_USER_TOKEN: USER_TOKEN,
      SLACK_AS_TOKEN: "bench-slack-as",
      SLACK_HS_TOKEN: "bench-slack-hs",
    },
  });
  slack.eventsUrl = `${worker.baseUrl}/_bridges/slack/events`;
  try {
    const session = await call(worker.baseUrl, "POST", "/_matrix/client/v3/register", {
      body: { username: "benchperson", password: "bench password", auth: { type: "m.login.dummy" } },
    });
    const person = new Client(worker.baseUrl, { username: "benchperson", userId: session.user_id, token: session.access_token, deviceId: session.device_id });
    let since = (await person.sync({ filter: { room: { timeline: { limit: 1 } } } })).next_batch;

    // The first message opens the portal: the person accepts its invite.
    await slack.deliver(slack.userMessage(CHANNEL, ALICE, "warm-up"));
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
    const s2e = [];
    const s2eStart = performance.now();
    for (let i = 0; i < rounds; i++) {
      const body = `s2e ${i}`;
      const t0 = performance.now();
      await slack.deliver(slack.userMessage(CHANNEL, ALICE, body));
      since = await syncUntil(person, since, portal, (e) => e.content?.body === body);
      s2e.push(performance.now() - t0);
    }
    const s2eWall = performance.now() - s2eStart;

    const e2s = [];
    const e2sStart = performance.now();
    for (let i = 0; i < rounds; i++) {
      const before = slack.posted.length;
      const t0 = performance.now();
      await person.send(portal, { msgtype: "m.text", body: `e2s ${i}` });
      await until("the post at Slack", () => slack.posted.length > before);
      e2s.push(slack.posted[before].at - t0);
    }
    const e2sWall = performance.now() - e2sStart;

    // Sustained: a burst delivered back to back; the time until the person's /sync has the last of it.
    const burst = quick ? 100 : 1000;
    const t0 = performance.now();
    for (let i = 0; i < burst; i++) await slack.deliver(slack.userMessage(CHANNEL, ALICE, `burst ${i}`));
    await syncUntil(person, since, portal, (e) => e.content?.body === `burst ${burst - 1}`);
    const burstMs = performance.now() - t0;

    return [
      summarize("slack -> element latency (Events API delivery -> /sync)", s2e, s2eWall, "one message at a time"),
      summarize("element -> slack latency (send -> fake chat.postMessage)", e2s, e2sWall, "one message at a time, user token"),
      row("slack bridge sustained, one portal", {
        n: burst,
        throughput_per_s: +((burst / burstMs) * 1000).toFixed(1),
        note: `${burst} delivered back to back, all in /sync after ${(burstMs / 1000).toFixed(1)} s`,
      }),
    ];
  } finally {
    await stopAndWait(worker.child);
    await slack.stop();
    removeDir(persistTo);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const quick = process.argv.includes("--short") || process.argv.includes("--quick");
  const rows = await slackScenario({ quick });
  const columns = ["scenario", "n", "p50_ms", "p99_ms", "max_ms", "throughput_per_s", "note"];
  console.log(`| ${columns.join(" | ")} |`);
  console.log(`| ${columns.map(() => "---").join(" | ")} |`);
  for (const r of rows) console.log(`| ${columns.map((c) => r[c]).join(" | ")} |`);
}
