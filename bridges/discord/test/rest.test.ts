import { describe, expect, it } from "vitest";
import { DiscordApiError, DiscordRest } from "../rest";

function fakeFetch(answers: Response[]) {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), init });
    const next = answers.shift();
    if (!next) throw new Error("no more answers");
    return next;
  }) as typeof fetch;
  return { calls, fetcher };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const sent = { id: "1", channel_id: "2", timestamp: "2024-01-01T00:00:00.000Z" };

describe("Discord REST client", () => {
  it("reads every page of a channel's pins (newest first, `before` the last pin time) and gives the ids oldest pin first", async () => {
    const pin = (id: string, at: string) => ({ pinned_at: at, message: { id, channel_id: "2", content: "" } });
    const { calls, fetcher } = fakeFetch([
      json(200, { items: [pin("9", "2026-11-26T03:00:00Z"), pin("8", "2026-11-26T02:00:00Z")], has_more: true }),
      json(200, { items: [pin("7", "2026-11-26T01:00:00Z")], has_more: false }),
    ]);
    const rest = new DiscordRest({ baseUrl: "https://d.test", token: "t", fetch: fetcher });
    expect(await rest.pinnedMessageIds("2")).toEqual(["7", "8", "9"]);
    expect(calls.map((c) => c.url)).toEqual([
      "https://d.test/channels/2/messages/pins?limit=50",
      "https://d.test/channels/2/messages/pins?limit=50&before=2026-11-26T02%3A00%3A00Z",
    ]);
  });

  it("posts a message with the bot token", async () => {
    const { calls, fetcher } = fakeFetch([json(200, sent)]);
    const rest = new DiscordRest({ baseUrl: "https://discord.test/api/v10", token: "tok", fetch: fetcher });
    expect(await rest.createMessage("2", { content: "hi" })).toEqual(sent);
    expect(calls[0]!.url).toBe("https://discord.test/api/v10/channels/2/messages");
    expect(new Headers(calls[0]!.init?.headers).get("authorization")).toBe("Bot tok");
    expect(calls[0]!.init?.body).toBe(JSON.stringify({ content: "hi" }));
  });

  it("waits out a 429 for exactly retry_after, then retries", async () => {
    const { calls, fetcher } = fakeFetch([json(429, { message: "You are being rate limited.", retry_after: 1.25, global: false }), json(200, sent)]);
    const slept: number[] = [];
    const rest = new DiscordRest({ baseUrl: "https://d.test", token: "t", fetch: fetcher, sleep: async (ms) => void slept.push(ms) });
    expect((await rest.createMessage("2", { content: "x" })).id).toBe("1");
    expect(slept).toEqual([1250]);
    expect(calls).toHaveLength(2);
  });

  it("gives up on a rate limit longer than it will wait", async () => {
    const { fetcher } = fakeFetch([json(429, { message: "slow down", retry_after: 3600, global: true })]);
    const rest = new DiscordRest({ baseUrl: "https://d.test", token: "t", fetch: fetcher, sleep: async () => undefined });
    await expect(rest.createMessage("2", { content: "x" })).rejects.toBeInstanceOf(DiscordApiError);
  });

  it("rejects an answer that is not a message (zod at the boundary)", async () => {
    const { fetcher } = fakeFetch([json(200, { nope: true })]);
    const rest = new DiscordRest({ baseUrl: "https://d.test", token: "t", fetch: fetcher });
    await expect(rest.createMessage("2", { content: "x" })).rejects.toThrow();
  });

  it("edits, deletes and reacts with the documented routes; 204 answers carry nothing to read", async () => {
    const { calls, fetcher } = fakeFetch([json(200, sent), new Response(null, { status: 204 }), new Response(null, { status: 204 }), new Response(null, { status: 204 })]);
    const rest = new DiscordRest({ baseUrl: "https://d.test", token: "t", fetch: fetcher });
    await rest.editMessage("2", "1", { content: "new" });
    await rest.deleteMessage("2", "1");
    await rest.addReaction("2", "1", "👍");
    await rest.removeOwnReaction("2", "1", "👍");
    expect(calls.map((c) => `${c.init?.method} ${c.url}`)).toEqual([
      "PATCH https://d.test/channels/2/messages/1",
      "DELETE https://d.test/channels/2/messages/1",
      "PUT https://d.test/channels/2/messages/1/reactions/%F0%9F%91%8D/@me",
      "DELETE https://d.test/channels/2/messages/1/reactions/%F0%9F%91%8D/@me",
    ]);
    expect(calls[0]!.init?.body).toBe(JSON.stringify({ content: "new" }));
  });

  it("a refused edit is an error (only the author may edit)", async () => {
    const { fetcher } = fakeFetch([json(403, { message: "Cannot edit a message authored by another user", code: 50005 })]);
    const rest = new DiscordRest({ baseUrl: "https://d.test", token: "t", fetch: fetcher });
    await expect(rest.editMessage("2", "1", { content: "x" })).rejects.toMatchObject({ status: 403 });
  });

  it("GET /gateway/bot reads the identify budget; history pages carry after / before and at most 100", async () => {
    const { calls, fetcher } = fakeFetch([
      json(200, { url: "wss://gateway.discord.gg", shards: 1, session_start_limit: { total: 1000, remaining: 3, reset_after: 5000, max_concurrency: 1 } }),
      json(200, []),
      json(200, []),
    ]);
    const rest = new DiscordRest({ baseUrl: "https://d.test", token: "t", fetch: fetcher });
    expect(await rest.gateway()).toEqual({ url: "wss://gateway.discord.gg", session_start_limit: { remaining: 3, reset_after: 5000 } });
    await rest.messages("2", { after: "10", limit: 500 });
    await rest.messages("2", { before: "10", limit: 5 });
    expect(calls.slice(1).map((c) => c.url)).toEqual(["https://d.test/channels/2/messages?limit=100&after=10", "https://d.test/channels/2/messages?limit=5&before=10"]);
  });
});
