import { describe, expect, it } from "vitest";
import { SlackApiError, SlackWebApi } from "../web-api";

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

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

describe("Slack Web API client", () => {
  it("posts a message as JSON with the bot token, and returns its ts", async () => {
    const { calls, fetcher } = fakeFetch([json(200, { ok: true, channel: "C1", ts: "1700000000.000100", message: {} })]);
    const api = new SlackWebApi({ baseUrl: "https://slack.test/api", token: "xoxb-1", fetch: fetcher });
    expect(await api.postMessage("C1", "hi")).toBe("1700000000.000100");
    expect(calls[0]!.url).toBe("https://slack.test/api/chat.postMessage");
    const headers = new Headers(calls[0]!.init?.headers);
    expect(headers.get("authorization")).toBe("Bearer xoxb-1");
    expect(headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(calls[0]!.init?.body).toBe(JSON.stringify({ channel: "C1", text: "hi" }));
  });

  it("reads users.info form-encoded", async () => {
    const { calls, fetcher } = fakeFetch([json(200, { ok: true, user: { id: "U1", name: "alice", profile: { display_name: "Alice" } } })]);
    const api = new SlackWebApi({ baseUrl: "https://slack.test/api", token: "xoxb-1", fetch: fetcher });
    expect((await api.usersInfo("U1")).profile?.display_name).toBe("Alice");
    expect(calls[0]!.init?.body).toBe("user=U1");
  });

  it("waits out a 429 for exactly Retry-After seconds, then retries", async () => {
    const { calls, fetcher } = fakeFetch([json(429, { ok: false, error: "ratelimited" }, { "retry-after": "2" }), json(200, { ok: true, channel: "C1", ts: "1.2" })]);
    const slept: number[] = [];
    const api = new SlackWebApi({ baseUrl: "https://s.test", token: "xoxb-1", fetch: fetcher, sleep: async (ms) => void slept.push(ms) });
    expect(await api.postMessage("C1", "x")).toBe("1.2");
    expect(slept).toEqual([2000]);
    expect(calls).toHaveLength(2);
  });

  it("gives up on a rate limit longer than it will wait", async () => {
    const { fetcher } = fakeFetch([json(429, { ok: false, error: "ratelimited" }, { "retry-after": "3600" })]);
    const api = new SlackWebApi({ baseUrl: "https://s.test", token: "xoxb-1", fetch: fetcher, sleep: async () => undefined });
    await expect(api.postMessage("C1", "x")).rejects.toMatchObject({ status: 429, error: "ratelimited" });
  });

  it("turns ok:false into a SlackApiError with Slack's error code", async () => {
    const { fetcher } = fakeFetch([json(200, { ok: false, error: "channel_not_found" })]);
    const api = new SlackWebApi({ baseUrl: "https://s.test", token: "xoxb-1", fetch: fetcher });
    const err = await api.postMessage("C9", "x").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlackApiError);
    expect(err).toMatchObject({ error: "channel_not_found" });
  });

  it("rejects an answer that is not what the method returns (zod at the boundary)", async () => {
    const { fetcher } = fakeFetch([json(200, { ok: true, nope: 1 })]);
    const api = new SlackWebApi({ baseUrl: "https://s.test", token: "xoxb-1", fetch: fetcher });
    await expect(api.postMessage("C1", "x")).rejects.toThrow();
  });

  it("a dead token (token_revoked, invalid_auth) is reported before the call fails", async () => {
    const { fetcher } = fakeFetch([json(200, { ok: false, error: "token_revoked" })]);
    const reported: string[] = [];
    const api = new SlackWebApi({ baseUrl: "https://s.test", token: "xoxb-1", fetch: fetcher, onAuthError: (error) => void reported.push(error) });
    await expect(api.authTest()).rejects.toMatchObject({ error: "token_revoked" });
    expect(reported).toEqual(["token_revoked"]);
  });

  it("oauth.v2.access sends the app's credentials in the body and no bearer token", async () => {
    const answer = { ok: true, access_token: "xoxb-new", bot_user_id: "U0BOT", team: { id: "T1", name: "W" }, authed_user: { id: "U1", access_token: "xoxp-new" } };
    const { calls, fetcher } = fakeFetch([json(200, answer)]);
    const api = new SlackWebApi({ baseUrl: "https://s.test/api", token: "", fetch: fetcher });
    expect(await api.oauthAccess("cid", "csecret", "code1", "https://m.example/cb")).toMatchObject({ access_token: "xoxb-new", authed_user: { access_token: "xoxp-new" } });
    expect(calls[0]!.url).toBe("https://s.test/api/oauth.v2.access");
    expect(new Headers(calls[0]!.init?.headers).get("authorization")).toBeNull();
    expect(calls[0]!.init?.body).toBe("client_id=cid&client_secret=csecret&code=code1&redirect_uri=https%3A%2F%2Fm.example%2Fcb");
  });
});
