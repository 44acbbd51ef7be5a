/**
 * Slack's request signing (https://api.slack.com/authentication/verifying-requests-from-slack): `X-Slack-Signature`
 * is `v0=` + hex HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{raw body}` with the app's signing secret.
 */

/** Deliveries older (or further in the future) than this are refused: a replayed request cannot be reused later. */
export const MAX_SKEW_SECONDS = 5 * 60;

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

const encoder = new TextEncoder();

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> | null {
  if (!/^(?:[0-9a-f]{2})+$/i.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

export async function signSlackRequest(secret: string, timestamp: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(`v0:${timestamp}:${body}`)));
  return `v0=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Checks one delivery. The MAC is compared by `crypto.subtle.verify`, which compares in constant time, so the
 * answer's timing tells nothing about how much of a forged signature was right.
 */
export async function verifySlackRequest(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  body: string,
  nowMs: number,
): Promise<SignatureCheck> {
  const { timestamp, signature } = headers;
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "missing or malformed X-Slack-Request-Timestamp" };
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) return { ok: false, reason: "X-Slack-Request-Timestamp is too old (or in the future)" };
  const mac = signature?.startsWith("v0=") ? hexToBytes(signature.slice(3)) : null;
  if (mac === null || mac.length !== 32) return { ok: false, reason: "missing or malformed X-Slack-Signature" };
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const valid = await crypto.subtle.verify("HMAC", key, mac, encoder.encode(`v0:${timestamp}:${body}`));
  return valid ? { ok: true } : { ok: false, reason: "X-Slack-Signature does not match" };
}
