/**
 * The `nonce` a user login sends with each message it posts from Matrix (Discord: a string of up to 25 characters,
 * echoed in that message's MESSAGE_CREATE). Discord's own clients send numeric snowflakes, so this prefix marks the
 * bridge's own posts: their echo is recognised at once, even when it arrives before the REST answer that names the
 * message's id, and even for the later parts of a long message, which the portal's message map does not hold; and
 * it is told apart from what the person writes in a Discord app (the same author).
 */
const PREFIX = "mxb.";

/** A fresh nonce of the bridge's own: the prefix and 21 random hex digits (25 characters). */
export function bridgeNonce(): string {
  return `${PREFIX}${crypto.randomUUID().replaceAll("-", "").slice(0, 21)}`;
}

export const isBridgeNonce = (nonce: unknown): boolean => typeof nonce === "string" && nonce.startsWith(PREFIX);
