import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { portalKey, remoteMessageId } from "../../core/ids";
import { type SlackConfig, loadSlackConfig } from "../config";
import { SlackNetworkApi, type SlackNetworkDeps } from "../network-api";

const config = loadSlackConfig({
  ...env,
  SLACK_BRIDGE_ENABLED: "true",
  SLACK_BRIDGE_OWNER: "@me:example.org",
  SLACK_API_BASE_URL: "https://slack.test/api",
  SLACK_SIGNING_SECRET: "s",
  SLACK_BOT_TOKEN: "xoxb-1",
  SLACK_AS_TOKEN: "as",
  SLACK_HS_TOKEN: "hs",
}) as SlackConfig;

const KEY = portalKey("T0001:C0100");
const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { "content-type": "application/json" } });

/** A connector whose Web API answers come from `answer(method, args)`, recording every call. */
function connector(
  tokens: { bot: string; user?: string } | null,
  answer: (method: string, args: Record<string, unknown>) => unknown,
  profiles: Awaited<ReturnType<SlackNetworkDeps["profiles"]>> = { U0042: { name: "Alice" } },
) {
  const calls: { method: string; auth: string | null; args: Record<string, unknown> }[] = [];
  const echoes: string[] = [];
  const downloads: string[] = [];
  const deps: SlackNetworkDeps = {
    tokensFor: async () => tokens,
    profiles: async () => profiles,
    customEmoji: async () => ({}),
    customEmojiName: async (team, mxc) => (team === "T0001" && mxc === "mxc://example.org/parrot" ? "partyparrot" : undefined),
    expectReactionEcho: async (channel, ts, name) => void echoes.push(`${channel}:${ts}:${name}`),
    authFailed: async () => undefined,
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input);
      if (!url.startsWith("https://slack.test/api/")) {
        downloads.push(`${url} ${new Headers(init?.headers).get("authorization") ?? "-"}`);
        return new Response("bytes");
      }
      const method = url.slice("https://slack.test/api/".length);
      const body = String(init?.body ?? "");
      const args = body.startsWith("{") ? (JSON.parse(body) as Record<string, unknown>) : Object.fromEntries(new URLSearchParams(body));
      calls.push({ method, auth: new Headers(init?.headers).get("authorization"), args });
      return json(answer(method, args));
    }) as typeof fetch,
  };
  return { api: new SlackNetworkApi(env, config, deps), calls, echoes, downloads };
}

const message = (ts: string, text: string, extra: Record<string, unknown> = {}) => ({ type: "message", user: "U0042", text, ts, ...extra });

describe("the Slack connector", () => {
  it("gap fill: every history page after `after`, oldest first, exact to the microsecond, joins left out", async () => {
    const pages: Record<string, unknown> = {
      "": { ok: true, messages: [message("1700000000.000003", "c"), message("1700000000.000002", "b")], has_more: true, response_metadata: { next_cursor: "p2" } },
      p2: { ok: true, messages: [{ type: "message", subtype: "channel_join", user: "U0042", text: "joined", ts: "1700000000.0000015" }, message("1700000000.000001", "a")], has_more: false },
    };
    const { api, calls } = connector({ bot: "xoxb-1" }, (_m, args) => pages[String(args["cursor"] ?? "")]);
    const fetched = await api.fetchMessages(KEY, remoteMessageId("1700000000.000000"), 10);
    expect(fetched.map((m) => [m.messageId, m.content.body, m.sender.displayName])).toEqual([
      ["1700000000.000001", "a", "Alice"],
      ["1700000000.000002", "b", "Alice"],
      ["1700000000.000003", "c", "Alice"],
    ]);
    // Read back a week before the gap (threads with new replies are looked for there).
    expect(calls.map((c) => [c.method, c.args["oldest"], c.args["cursor"] ?? null])).toEqual([
      ["conversations.history", "1699395200.000000", null],
      ["conversations.history", "1699395200.000000", "p2"],
    ]);
    // Only the oldest `limit` of a gap: the rest comes with the next call.
    expect((await api.fetchMessages(KEY, remoteMessageId("1700000000.000000"), 2)).map((m) => m.messageId)).toEqual(["1700000000.000001", "1700000000.000002"]);
  });

  it("gap fill: replies after `after` in threads whose parent is before the gap, merged by ts, each once, as thread replies", async () => {
    const history = {
      ok: true,
      messages: [
        message("1700000000.000004", "top, after the gap"),
        // A broadcast reply is in history and in the replies: bridged once.
        message("1700000000.000003", "broadcast", { subtype: "thread_broadcast", thread_ts: "1699999000.000000" }),
        message("1699999000.000000", "parent", { thread_ts: "1699999000.000000", reply_count: 4, latest_reply: "1700000000.000005" }),
        message("1699998000.000000", "quiet thread", { thread_ts: "1699998000.000000", reply_count: 1, latest_reply: "1699998001.000000" }),
      ],
      has_more: false,
    };
    const replies = {
      ok: true,
      messages: [
        message("1699999000.000000", "parent", { thread_ts: "1699999000.000000", reply_count: 4, latest_reply: "1700000000.000005" }),
        message("1700000000.000001", "reply one", { thread_ts: "1699999000.000000" }),
        message("1700000000.000003", "broadcast", { subtype: "thread_broadcast", thread_ts: "1699999000.000000" }),
        message("1700000000.000005", "reply three", { thread_ts: "1699999000.000000" }),
      ],
      has_more: false,
    };
    const { api, calls } = connector({ bot: "xoxb-1" }, (method) => (method === "conversations.history" ? history : replies));
    const fetched = await api.fetchMessages(KEY, remoteMessageId("1700000000.000000"), 10);
    expect(fetched.map((m) => [m.messageId, m.content.body, m.threadRoot ?? null])).toEqual([
      ["1700000000.000001", "reply one", "1699999000.000000"],
      ["1700000000.000003", "broadcast", "1699999000.000000"],
      ["1700000000.000004", "top, after the gap", null],
      ["1700000000.000005", "reply three", "1699999000.000000"],
    ]);
    // Only the thread with a reply after the gap is read, from the gap on.
    expect(calls.filter((c) => c.method === "conversations.replies").map((c) => c.args)).toEqual([{ channel: "C0100", ts: "1699999000.000000", oldest: "1700000000.000000", limit: "200" }]);
    // A new room: the newest `limit` top-level messages, and the replies of those with threads.
    const fresh = await api.fetchMessages(KEY, null, 3);
    expect(fresh.map((m) => m.content.body)).toEqual(["parent", "reply one", "broadcast", "top, after the gap", "reply three"]);
  });

  it("posts with the user token when there is one; with the bot's under the person's name otherwise; threads by thread_ts", async () => {
    const user = connector({ bot: "xoxb-1", user: "xoxp-1" }, () => ({ ok: true, channel: "C0100", ts: "1700000001.000100" }));
    const sent = await user.api.handleMatrixMessage(KEY, { eventId: "$e", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text", body: "hi" }, threadRoot: remoteMessageId("1700000000.000001") });
    expect(sent).toEqual({ messageId: "1700000001.000100" });
    expect(user.calls).toEqual([{ method: "chat.postMessage", auth: "Bearer xoxp-1", args: { channel: "C0100", text: "hi", thread_ts: "1700000000.000001" } }]);
    const bot = connector({ bot: "xoxb-1" }, () => ({ ok: true, channel: "C0100", ts: "1700000001.000200" }));
    await bot.api.handleMatrixMessage(KEY, { eventId: "$e", roomId: "!r", sender: "@me:example.org", content: { msgtype: "m.text", body: "hi" } });
    expect(bot.calls[0]).toEqual({ method: "chat.postMessage", auth: "Bearer xoxb-1", args: { channel: "C0100", text: "hi", username: "me" } });
  });

  it("reactions: Unicode to a name, a custom emoji image to its name, the echo expected before reactions.add; emoji without a name are not sent", async () => {
    const { api, calls, echoes } = connector({ bot: "xoxb-1", user: "xoxp-1" }, () => ({ ok: true }));
    await api.handleMatrixReaction(KEY, remoteMessageId("1700000000.000001"), "👍🏽");
    await api.handleMatrixReaction(KEY, remoteMessageId("1700000000.000001"), "🫠");
    await api.handleMatrixReaction(KEY, remoteMessageId("1700000000.000001"), "mxc://example.org/parrot");
    await api.handleMatrixReaction(KEY, remoteMessageId("1700000000.000001"), "mxc://example.org/unknown");
    await api.handleMatrixReactionRemove(KEY, remoteMessageId("1700000000.000001"), "mxc://example.org/parrot");
    expect(echoes).toEqual(["C0100:1700000000.000001:+1::skin-tone-4", "C0100:1700000000.000001:partyparrot"]);
    const args = (name: string) => ({ channel: "C0100", timestamp: "1700000000.000001", name });
    expect(calls).toEqual([
      { method: "reactions.add", auth: "Bearer xoxp-1", args: args("+1::skin-tone-4") },
      { method: "reactions.add", auth: "Bearer xoxp-1", args: args("partyparrot") },
      { method: "reactions.remove", auth: "Bearer xoxp-1", args: args("partyparrot") },
    ]);
  });

  it("a file goes through the external upload flow, and its message ts comes from files.info", async () => {
    let infos = 0;
    const { api, calls, downloads } = connector({ bot: "xoxb-1" }, (method) => {
      if (method === "files.getUploadURLExternal") return { ok: true, upload_url: "https://files.slack.com/upload/v1/abc", file_id: "F1" };
      if (method === "files.info") return { ok: true, file: { id: "F1", shares: infos++ === 0 ? {} : { public: { C0100: [{ ts: "1700000002.000001" }] } } } };
      return { ok: true };
    });
    const bytes = new TextEncoder().encode("file body").buffer as ArrayBuffer;
    const sent = await api.handleMatrixMessage(KEY, {
      eventId: "$f",
      roomId: "!r",
      sender: "@me:example.org",
      content: { msgtype: "m.text", body: "" },
      media: { mxc: "mxc://example.org/a", filename: "a.txt", bytes },
    });
    expect(sent).toEqual({ messageId: "1700000002.000001" });
    expect(calls.map((c) => c.method)).toEqual(["files.getUploadURLExternal", "files.completeUploadExternal", "files.info", "files.info"]);
    expect(calls[0]!.args).toEqual({ filename: "a.txt", length: "9" });
    expect(calls[1]!.args).toEqual({ files: [{ id: "F1", title: "a.txt" }], channel_id: "C0100" });
    // The bytes went to the upload URL, without the token.
    expect(downloads).toEqual(["https://files.slack.com/upload/v1/abc -"]);
  });

  it("downloads url_private with the workspace's bot token, and nothing else with any token", async () => {
    const { api, downloads } = connector({ bot: "xoxb-1" }, () => ({ ok: true }));
    await api.downloadRemoteMedia("https://files.slack.com/files-pri/T0001-F1/report.png");
    await api.downloadRemoteMedia("https://avatars.slack-edge.com/alice.png");
    await api.downloadRemoteMedia("https://evil.example/files-pri/T0001-F1/x");
    expect(downloads).toEqual([
      "https://files.slack.com/files-pri/T0001-F1/report.png Bearer xoxb-1",
      "https://avatars.slack-edge.com/alice.png -",
      "https://evil.example/files-pri/T0001-F1/x -",
    ]);
  });

  it("without tokens for the workspace it refuses, naming the way out", async () => {
    const { api } = connector(null, () => ({ ok: true }));
    await expect(api.handleMatrixRedaction(KEY, remoteMessageId("1.1"))).rejects.toThrow(/say "login"/);
  });

  it("chat info: a DM is a direct room named after the other person, with their avatar; the workspace is the space", async () => {
    const { api } = connector(
      { bot: "xoxb-1" },
      (method) =>
        method === "conversations.info"
          ? { ok: true, channel: { id: "D0100", is_im: true, user: "U0042" } }
          : { ok: true, team: { id: "T0001", name: "Acme", icon: { image_132: "https://avatars.slack-edge.com/acme.png", image_default: false } } },
      { U0042: { name: "Alice", avatarUrl: "https://avatars.slack-edge.com/alice.png" } },
    );
    expect(await api.getChatInfo(portalKey("T0001:D0100"))).toEqual({
      name: "Alice",
      avatarUrl: "https://avatars.slack-edge.com/alice.png",
      isDirect: true,
      space: { key: "T0001", name: "Acme", avatarUrl: "https://avatars.slack-edge.com/acme.png" },
    });
  });

  it("chat info: a channel's name and topic (the purpose when there is no topic)", async () => {
    const { api } = connector({ bot: "xoxb-1" }, (method) =>
      method === "conversations.info" ? { ok: true, channel: { id: "C0100", name: "general", topic: { value: "" }, purpose: { value: "all hands" } } } : { ok: false, error: "missing_scope" },
    );
    expect(await api.getChatInfo(KEY)).toEqual({ name: "general", topic: "all hands" });
  });
});
