// What one portal call works with: the network's connector and login, and Matrix as the appservice.
import { connectorFor } from "../connectors";
import { type HomeserverFetch, MatrixIntent } from "../matrix/intent";
import type { BridgeIdentity, NetworkApi } from "../network";

/** Largest file carried either way (read into memory on the way); a connector may set a lower one. */
export const MAX_MEDIA_BYTES = 50 * 1024 * 1024;

export interface Bridge {
  networkId: string;
  identity: BridgeIdentity;
  api: NetworkApi;
  intent: MatrixIntent;
  /** The bridge bot's user id. */
  bot: string;
  maxMediaBytes: number;
}

export function bridgeFor(env: Env, hs: HomeserverFetch, networkId: string): Bridge {
  const connector = connectorFor(networkId);
  const identity = connector.identity(env);
  if (!identity) throw new Error(`The ${networkId} bridge is not enabled`);
  return {
    networkId,
    identity,
    api: connector.loadApi(env),
    intent: new MatrixIntent(hs, env.PUBLIC_BASEURL, identity.asToken),
    bot: `@${identity.botLocalpart}:${identity.serverName}`,
    maxMediaBytes: Math.min(identity.maxMediaBytes ?? MAX_MEDIA_BYTES, MAX_MEDIA_BYTES),
  };
}
