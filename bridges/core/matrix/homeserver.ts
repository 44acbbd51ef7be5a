import type { HomeserverFetch } from "./intent";

/**
 * How a built-in bridge reaches the homeserver: through the Worker's own fetch handler (`ctx.exports.default`,
 * a loopback binding), so a Client-Server request never leaves the process, yet it is the very same HTTP request
 * an external bridge would send (as_token, `?user_id=`), through the same routing, auth and validation.
 */
export function homeserverFetch(ctx: DurableObjectState): HomeserverFetch {
  const loopback = ctx.exports.default;
  return (request) => loopback.fetch(request);
}
