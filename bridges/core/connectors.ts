import type { NetworkConnector } from "./network";

/**
 * The network connectors built into this Worker, by network id. A portal Durable Object finds its connector here
 * (it cannot be handed one over RPC); bridges/index.ts registers them when the Worker module loads.
 */
const connectors = new Map<string, NetworkConnector>();

export function registerConnector(connector: NetworkConnector): void {
  connectors.set(connector.networkId, connector);
}

export function connectorFor(networkId: string): NetworkConnector {
  const connector = connectors.get(networkId);
  if (!connector) throw new Error(`No network connector ${JSON.stringify(networkId)}`);
  return connector;
}
