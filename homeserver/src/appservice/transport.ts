import { exports } from "cloudflare:workers";

/**
 * Whether `url` is on this Worker's own origin (PUBLIC_BASEURL): a built-in bridge, mounted under /_bridges/.
 */
export function isOwnOrigin(env: Env, url: string): boolean {
  try {
    return new URL(url).origin === new URL(env.PUBLIC_BASEURL).origin;
  } catch {
    return false;
  }
}

/**
 * Every request the homeserver makes to an appservice (transactions, ping, user and alias queries, third-party
 * lookups): to a built-in bridge through the Worker's own fetch handler (`exports.default`, no network hop, so it
 * works with no public URL), to anything else over the network. The request is the same either way.
 */
export function appserviceFetch(env: Env, request: Request): Promise<Response> {
  return isOwnOrigin(env, request.url) ? exports.default.fetch(request) : fetch(request);
}
