import { createMiddleware } from "hono/factory";
import { registerConnector } from "./core/connectors";
import { loadDiscordConfig } from "./discord/config";
import { discordGateway } from "./discord/gateway/gateway-object";
import { discordConnector } from "./discord/network-api";
import { loadSlackConfig } from "./slack/config";
import { slackConnector } from "./slack/network-api";

export { PortalObject } from "./core/portal-object";
export { DiscordGatewayObject } from "./discord/gateway/gateway-object";
export { discordBridgeRoutes } from "./discord/routes";
export { SlackBridgeObject } from "./slack/bridge-object";
export { slackBridgeRoutes } from "./slack/routes";

registerConnector(discordConnector);
registerConnector(slackConnector);

/** Whether this isolate has started the enabled bridges' connections already. */
let started = false;

/**
 * Starts the enabled bridges once per isolate, in the background of the first request (a Worker has no start
 * hook): the gateway object then keeps itself connected with its watchdog alarm. A bad bridge setting fails the
 * request with its name, like any other setting.
 */
export const startBridges = createMiddleware<{ Bindings: Env }>(async function startBridges(c, next) {
  // Slack has no connection to start (Events API deliveries come to us), but its settings are checked here too.
  loadSlackConfig(c.env);
  if (!started && loadDiscordConfig(c.env) !== null) {
    started = true;
    c.executionCtx.waitUntil(discordGateway(c.env).ensureConnected().catch((err: unknown) => console.warn(`discord gateway: ${(err as Error).message}`)));
  }
  await next();
});
