import type { PortalKey } from "./ids";

/** The portal Durable Object of one remote chat: one per (network, portal key), so one serialized queue each. */
export function portalStub(env: Env, networkId: string, key: PortalKey) {
  return env.BRIDGE_PORTALS.get(env.BRIDGE_PORTALS.idFromName(`${networkId}:${key}`));
}
