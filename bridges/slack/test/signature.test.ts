import { describe, expect, it } from "vitest";
import { signSlackRequest, verifySlackRequest } from "../signature";

// Slack's own worked example (https://api.slack.com/authentication/verifying-requests-from-slack).
const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const TIMESTAMP = "1531420618";
const BODY =
  "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const EXPECTED = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
const NOW = Number(TIMESTAMP) * 1000;

describe("Slack request signing", () => {
  it("computes Slack's documented example signature", async () => {
    expect(await signSlackRequest(SECRET, TIMESTAMP, BODY)).toBe(EXPECTED);
  });

  it("accepts the documented request", async () => {
    expect(await verifySlackRequest(SECRET, { timestamp: TIMESTAMP, signature: EXPECTED }, BODY, NOW + 1000)).toEqual({ ok: true });
  });

  it("refuses a changed body, another secret, a flipped bit, a malformed or missing signature", async () => {
    const check = (signature: string | undefined, body = BODY, secret = SECRET) => verifySlackRequest(secret, { timestamp: TIMESTAMP, signature }, body, NOW);
    expect((await check(EXPECTED, `${BODY}x`)).ok).toBe(false);
    expect((await check(EXPECTED, BODY, "another-secret")).ok).toBe(false);
    expect((await check(`${EXPECTED.slice(0, -1)}2`)).ok).toBe(false);
    expect((await check(EXPECTED.replace("v0=", "v1="))).ok).toBe(false);
    expect((await check("v0=abc")).ok).toBe(false);
    expect((await check(undefined)).ok).toBe(false);
  });

  it("refuses a timestamp more than five minutes old (a replay) or ahead, and a missing one", async () => {
    const signature = EXPECTED;
    expect(await verifySlackRequest(SECRET, { timestamp: TIMESTAMP, signature }, BODY, NOW + 301_000)).toEqual({
      ok: false,
      reason: "X-Slack-Request-Timestamp is too old (or in the future)",
    });
    expect((await verifySlackRequest(SECRET, { timestamp: TIMESTAMP, signature }, BODY, NOW - 301_000)).ok).toBe(false);
    expect((await verifySlackRequest(SECRET, { timestamp: TIMESTAMP, signature }, BODY, NOW + 299_000)).ok).toBe(true);
    expect((await verifySlackRequest(SECRET, { timestamp: undefined, signature }, BODY, NOW)).ok).toBe(false);
  });
});
