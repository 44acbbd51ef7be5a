import { createMiddleware } from "hono/factory";
import { registerConnector } from "./core/connectors";
import { loadDiscordConfig } from "./discord/config";
import { discordGateway } from "./discord/gateway/gateway-object";
import { discordConnector } from "./discord/network-api";
import { slackBridge } from "./slack/bridge-object";
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
let slackStarted = false;

/**
 * Starts the enabled bridges once per isolate, in the background of the first request (a Worker has no start
 * hook): the gateway object then keeps itself connected with its watchdog alarm. A bad bridge setting fails the
 * request with its name, like any other setting.
 */
export const startBridges = createMiddleware<{ Bindings: Env }>(async function startBridges(c, next) {
  // Slack's settings are checked here too; with an app token, its Socket Mode connection is started.
  if (!slackStarted && loadSlackConfig(c.env)?.appToken !== undefined) {
    slackStarted = true;
    c.executionCtx.waitUntil(slackBridge(c.env).ensureConnected().catch((err: unknown) => console.warn(`slack socket mode: ${(err as Error).message}`)));
  }
  if (!started && loadDiscordConfig(c.env) !== null) {
    started = true;
    c.executionCtx.waitUntil(discordGateway(c.env).ensureConnected().catch((err: unknown) => console.warn(`discord gateway: ${(err as Error).message}`)));
  }
  await next();
});
