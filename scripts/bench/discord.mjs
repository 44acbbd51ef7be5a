// The Discord bridge under load: its own Worker (bridge enabled, fresh state) and the end-to-end tests' fake Discord
// (test/e2e/fake-discord.ts, compiled on the fly with wrangler's esbuild), the person as a plain HTTP client.
// Rows: Discord -> Element latency (fake gateway dispatch -> the person's /sync answers with it), Element -> Discord
// latency (send -> the fake's REST receives the post), and the messages per second one portal sustains.
// `node scripts/bench/discord.mjs [--short]` runs it alone; bench.mjs runs it as the "discord" scenario.
import { acceptPortal, loadFake, runAlone, sleep, startBridgeWorker, syncUntil, until } from "./bridge-harness.mjs";
import { row, summarize } from "./stats.mjs";

const BOT_TOKEN = "bench-discord-bot-token";
const GUILD = "600000000000000001";
const CHANNEL = "700000000000000100";
const author = { id: "310000000000000042", username: "alice", discriminator: "0", global_name: "Alice", avatar: null };

export async function discordScenario({ quick }) {
  const { FakeDiscord } = await loadFake("discord");
  const discord = new FakeDiscord(BOT_TOKEN);
  discord.channels.set(CHANNEL, { id: CHANNEL, type: 0, guild_id: GUILD, name: "general", position: 0 });
  discord.guilds.set(GUILD, { id: GUILD, name: "Bench Guild" });
  await discord.start();
  const { person, stop } = await startBridgeWorker("discord", {
    DISCORD_API_BASE_URL: discord.apiBaseUrl,
    DISCORD_CDN_BASE_URL: discord.cdnBaseUrl,
    DISCORD_BOT_TOKEN: BOT_TOKEN,
    DISCORD_BACKFILL_LIMIT: "0",
    // As a deployment has it: the person's messages then go through the channel's webhook (its token sealed).
    BRIDGE_SECRET_KEY: "bench-bridge-secret-key-at-least-32-chars",
  }).catch(async (err) => {
    await discord.stop();
    throw err;
  });
  try {
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
    ({ portal, since } = await acceptPortal(person, since, "general"));

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
      // The person's messages go out through the channel's webhook (as them), or as the bot where there is none.
      const outgoing = () => discord.posted.length + discord.webhookPosts.length;
      const before = outgoing();
      const t0 = performance.now();
      await person.send(portal, { msgtype: "m.text", body: `e2d ${i}` });
      await until("the post at Discord", () => outgoing() > before);
      e2d.push(performance.now() - t0);
    }
    const e2dWall = performance.now() - e2dStart;

    // Sustained: a burst dispatched at once; the time until the person's /sync has the last of it.
    // Not 1,000 (as for Slack): in the full mode a /sync of the person's went unanswered for over 60 s during a
    // 1,000 burst (2026-11-26, not yet explained; the e2e's 1,000-message burst passes, slowly).
    const burst = quick ? 200 : 300;
    const t0 = performance.now();
    for (let i = 0; i < burst; i++) discord.userMessage(CHANNEL, author, `burst ${i}`);
    await syncUntil(person, since, portal, (e) => e.content?.body === `burst ${burst - 1}`);
    const burstMs = performance.now() - t0;

    return [
      summarize("discord -> element latency (dispatch -> /sync)", d2e, d2eWall, "one message at a time"),
      summarize("element -> discord latency (send -> fake REST)", e2d, e2dWall, "one message at a time, through the channel webhook"),
      row("discord bridge sustained, one portal", {
        n: burst,
        throughput_per_s: +((burst / burstMs) * 1000).toFixed(1),
        note: `${burst} dispatched at once, all in /sync after ${(burstMs / 1000).toFixed(1)} s`,
      }),
    ];
  } finally {
    await stop();
    await discord.stop();
  }
}

await runAlone(import.meta.url, discordScenario);
