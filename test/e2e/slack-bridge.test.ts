import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type MatrixClient, type MatrixEvent, type Room, createClient } from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "./fake-slack";
import { syncUntilPrepared } from "./client";
import { freePort } from "./global-setup";
// @ts-expect-error: plain ESM helper shared with `npm start` and the benchmark
import { applyMigrations, startWorker, stopWorker } from "../../scripts/worker.mjs";

/**
 * The Slack bridge end to end: its own Worker (own port and state) with the bridge enabled and registered as an
 * appservice whose url is the Worker itself, a fake Slack (Web API + signed Events API deliveries), and the person
 * as a matrix-js-sdk client.
 */

const BOT_TOKEN = "xoxb-fake-slack-bot-token";
const SIGNING_SECRET = "fake-slack-signing-secret";
const AS_TOKEN = "slack-as-token";
const HS_TOKEN = "slack-hs-token";
const OWNER_LOCALPART = "person";
const OWNER = `@${OWNER_LOCALPART}:localhost`;
const CHANNEL = "C0100";
const ALICE = "U0042";
const ALICE_GHOST = "@_slack_t0001_u0042:localhost";

// The SDK logs every request at debug level; keep test output readable. (It is a loglevel logger underneath.)
(logger as unknown as { setLevel(level: string): void }).setLevel("warn");

let slack: FakeSlack;
let worker: { child: unknown; baseUrl: string; output(): string };
let persistTo: string;
let person: MatrixClient;

async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- worker output ---\n${worker.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function registration(port: number): string {
  return JSON.stringify([
    {
      id: "slack",
      url: `http://127.0.0.1:${port}/_bridges/slack`,
      as_token: "${SLACK_AS_TOKEN}",
      hs_token: "${SLACK_HS_TOKEN}",
      sender_localpart: "_slack_bot",
      rate_limited: false,
      namespaces: { users: [{ exclusive: true, regex: "@_slack_.*:localhost" }] },
    },
  ]);
}

const messages = (room: Room): MatrixEvent[] => room.getLiveTimeline().getEvents().filter((e) => e.getType() === "m.room.message");

interface BridgeStatus {
  bot: { teamId: string; userId: string; botId: string | null } | null;
  eventsAccepted: number;
  duplicatesDropped: number;
  portals: number;
}

async function bridgeStatus(): Promise<BridgeStatus> {
  const res = await fetch(`${worker.baseUrl}/_bridges/slack/status`, { headers: { authorization: `Bearer ${HS_TOKEN}` } });
  return (await res.json()) as BridgeStatus;
}

beforeAll(async () => {
  slack = new FakeSlack(BOT_TOKEN, SIGNING_SECRET);
  slack.users.set(ALICE, { id: ALICE, name: "alice", real_name: "Alice Anders", profile: { display_name: "Alice Anders", real_name: "Alice Anders" } });
  slack.users.set(slack.bot.userId, { id: slack.bot.userId, name: "inbox-bridge", profile: { display_name: "", real_name: "Inbox bridge" } });
  slack.channels.set(CHANNEL, { id: CHANNEL, name: "general", topic: { value: "chit-chat" } });
  await slack.start();

  persistTo = mkdtempSync(path.join(tmpdir(), "matrix-slack-e2e-"));
  applyMigrations(persistTo);
  const port = await freePort();
  worker = await startWorker({
    port,
    inspectorPort: await freePort(),
    persistTo,
    vars: {
      RATE_LIMIT_ENABLED: "false",
      SERVER_NAME: "localhost",
      PUBLIC_BASEURL: `http://127.0.0.1:${port}/`,
      APPSERVICE_RETRY_MAX_MS: "1000",
      APPSERVICES: registration(port),
      SLACK_BRIDGE_ENABLED: "true",
      SLACK_BRIDGE_OWNER: OWNER,
      SLACK_API_BASE_URL: slack.apiBaseUrl,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_AS_TOKEN: AS_TOKEN,
      SLACK_HS_TOKEN: HS_TOKEN,
    },
  });
  slack.eventsUrl = `${worker.baseUrl}/_bridges/slack/events`;

  const res = await fetch(`${worker.baseUrl}/_matrix/client/v3/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: OWNER_LOCALPART, password: "slack e2e password", auth: { type: "m.login.dummy" } }),
  });
  const session = (await res.json()) as { access_token: string; user_id: string; device_id: string };
  person = createClient({ baseUrl: worker.baseUrl, accessToken: session.access_token, userId: session.user_id, deviceId: session.device_id });
  await syncUntilPrepared(person, 20);
}, 120_000);

afterAll(async () => {
  person?.stopClient();
  if (worker) stopWorker(worker.child);
  await slack?.stop();
  if (persistTo) rmSync(persistTo, { recursive: true, force: true });
});

describe("Slack bridge (fake Slack, real Worker, matrix-js-sdk person)", () => {
  let roomId: string;
  const first = () => slack.userMessage(CHANNEL, ALICE, "hello *world*, see <https://example.org|the site> &amp; `a_b`");
  let firstDelivery: ReturnType<typeof first>;

  it("answers Slack's url_verification challenge", async () => {
    const body = JSON.stringify({ token: "t", challenge: "the-challenge", type: "url_verification" });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const { createHmac } = await import("node:crypto");
    const signature = `v0=${createHmac("sha256", SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest("hex")}`;
    const res = await fetch(slack.eventsUrl, { method: "POST", headers: { "x-slack-request-timestamp": timestamp, "x-slack-signature": signature }, body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: "the-challenge" });
  });

  it("refuses a delivery with a bad signature or an old timestamp, and nothing changes", async () => {
    firstDelivery = first();
    expect(await slack.deliver(firstDelivery, { forgeSignature: true })).toBe(401);
    expect(await slack.deliver(firstDelivery, { ageSeconds: 6 * 60 })).toBe(401);
    // Give a wrongly accepted delivery time to show.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await bridgeStatus()).toEqual({ bot: null, eventsAccepted: 0, duplicatesDropped: 0, portals: 0 });
    expect(slack.calls).toEqual([]);
    expect(person.getRooms()).toEqual([]);
  });

  it("brings a Slack message (delivered once and retried three times) into the portal once, from the author's ghost", async () => {
    // The same event the refused deliveries carried: they did not mark it seen.
    expect(await slack.deliver(firstDelivery)).toBe(200);
    for (const retryNum of [1, 2, 3]) expect(await slack.deliver(firstDelivery, { retryNum })).toBe(200);
    const invited = await waitFor("the portal invite", () => person.getRooms().find((r) => r.getMyMembership() === "invite"));
    roomId = invited.roomId;
    expect(invited.name).toBe("general");
    await person.joinRoom(roomId);

    const room = await waitFor("the joined portal with the message", () => {
      const r = person.getRoom(roomId);
      return r && r.getMyMembership() === "join" && messages(r).length > 0 ? r : undefined;
    });
    const [event] = messages(room);
    expect(event!.getSender()).toBe(ALICE_GHOST);
    expect(event!.getContent()).toEqual({
      msgtype: "m.text",
      body: "hello *world*, see the site (https://example.org) & `a_b`",
      format: "org.matrix.custom.html",
      formatted_body: 'hello <strong>world</strong>, see <a href="https://example.org">the site</a> &amp; <code>a_b</code>',
    });
    // ?ts=: the Slack message's time (its ts), not the bridging time.
    const ts = String(firstDelivery.event["ts"]);
    expect(event!.getTs()).toBe(Math.floor(Number(ts) * 1000));
    // The ghost is named from users.info before its first message.
    expect(room.getMember(ALICE_GHOST)?.name).toBe("Alice Anders");
    expect(slack.calls).toContain("users.info");
    expect(room.currentState.getStateEvents("m.bridge")[0]!.getContent()).toMatchObject({
      bridgebot: "@_slack_bot:localhost",
      protocol: { id: "slack" },
      channel: { id: `T0001:${CHANNEL}` },
    });
    expect(await bridgeStatus()).toEqual({ bot: { teamId: "T0001", userId: "U0BOT", botId: "B0BOT" }, eventsAccepted: 1, duplicatesDropped: 3, portals: 1 });
    // auth.test once (then remembered), users.info once for Alice.
    expect(slack.calls.filter((m) => m === "auth.test" || m === "users.info")).toEqual(["auth.test", "users.info"]);
  });

  it("sends the person's message to chat.postMessage (waiting out a 429), and its echo does not come back", async () => {
    slack.rateLimitNext = 1;
    await person.sendHtmlMessage(roomId, "hi from **matrix**", "hi from <strong>matrix</strong> &amp; <em>you</em>");
    const posted = await waitFor("the message at Slack", () => slack.posted[0]);
    expect(posted).toMatchObject({ channel: CHANNEL, text: "hi from *matrix* &amp; _you_" });
    expect(slack.rateLimited).toBe(1);

    // Slack delivered the bot's own message as an event (before chat.postMessage answered). A later message
    // shows the echo was processed (in order) first.
    await waitFor("the echo delivery", () => slack.deliveryStatuses.length >= 7);
    expect(await slack.deliver(slack.userMessage(CHANNEL, ALICE, "after the echo"))).toBe(200);
    const room = person.getRoom(roomId)!;
    await waitFor("the later message", () => messages(room).some((e) => e.getContent()["body"] === "after the echo"));
    expect(messages(room).map((e) => [e.getSender(), e.getContent()["body"]])).toEqual([
      [ALICE_GHOST, "hello *world*, see the site (https://example.org) & `a_b`"],
      [OWNER, "hi from **matrix**"],
      [ALICE_GHOST, "after the echo"],
    ]);
    expect(slack.posted).toHaveLength(1);
    expect(await bridgeStatus()).toMatchObject({ eventsAccepted: 3, duplicatesDropped: 3 });
  });

  it("brings a thread reply as a Matrix reply to the thread's root", async () => {
    const reply = slack.userMessage(CHANNEL, ALICE, "in the thread", { thread_ts: firstDelivery.event["ts"], parent_user_id: ALICE });
    expect(await slack.deliver(reply)).toBe(200);
    const room = person.getRoom(roomId)!;
    const event = await waitFor("the thread reply", () => messages(room).find((e) => e.getContent()["body"] === "in the thread"));
    const root = messages(room)[0]!;
    expect(event.getSender()).toBe(ALICE_GHOST);
    expect(event.getContent()["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: root.getId() } });
  });
});
