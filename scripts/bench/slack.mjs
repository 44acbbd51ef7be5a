// The Slack bridge under load: its own Worker (bridge enabled, fresh state) and the end-to-end tests' fake Slack
// (test/e2e/fake-slack.ts, compiled on the fly with esbuild), the person as a plain HTTP client.
// Rows: Slack -> Element latency (signed Events API delivery -> the person's /sync answers with it), Element -> Slack
// latency (send -> the fake Web API receives chat.postMessage), and the messages per second one portal sustains.
// `node scripts/bench/slack.mjs [--short]` runs it alone; bench.mjs runs it as the "slack" scenario.
import { acceptPortal, loadFake, runAlone, startBridgeWorker, syncUntil, until } from "./bridge-harness.mjs";
import { row, summarize } from "./stats.mjs";

const BOT_TOKEN = "xoxb-bench-slack-bot";
const USER_TOKEN = "xoxp-bench-slack-user";
const SIGNING_SECRET = "bench-slack-signing-secret";
const CHANNEL = "C0100";
const ALICE = "U0042";

export async function slackScenario({ quick }) {
  const { FakeSlack } = await loadFake("slack");
  const slack = new FakeSlack({ bot: BOT_TOKEN, user: USER_TOKEN }, SIGNING_SECRET);
  await slack.start();
  slack.channels.set(CHANNEL, { id: CHANNEL, name: "general" });
  slack.users.set(ALICE, { id: ALICE, name: "alice", profile: { display_name: "Alice" } });
  const { baseUrl, person, stop } = await startBridgeWorker("slack", {
    SLACK_API_BASE_URL: slack.apiBaseUrl,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_USER_TOKEN: USER_TOKEN,
  }).catch(async (err) => {
    await slack.stop();
    throw err;
  });
  slack.eventsUrl = `${baseUrl}/_bridges/slack/events`;
  try {
    let since = (await person.sync({ filter: { room: { timeline: { limit: 1 } } } })).next_batch;

    // The first message opens the portal: the person accepts its invite.
    await slack.deliver(slack.userMessage(CHANNEL, ALICE, "warm-up"));
    let portal;
    ({ portal, since } = await acceptPortal(person, since, "general"));

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
    await stop();
    await slack.stop();
  }
}

await runAlone(import.meta.url, slackScenario);
