import type { GatewayStatus } from "./gateway/gateway-object";

/**
 * The bridge bot's commands in a management room (a room the owner invited the bot to), pure: the command text
 * and the gateway's state in, the bot's answer out.
 */
export function managementReply(command: string, status: GatewayStatus): string {
  const [verb = ""] = command.trim().split(/\s+/, 1);
  switch (verb.toLowerCase()) {
    case "help":
      return ["Commands:", "help: this list", "ping: whether the bridge is connected to Discord", "login <bot token>: not available yet; set DISCORD_BOT_TOKEN"].join("\n");
    case "ping":
      if (status.fatalError !== null) return `Not connected: ${status.fatalError}. Check the bot token and its intents.`;
      if (status.connected && status.ready) return `Connected to Discord as bot user ${status.botUserId ?? "?"}.`;
      return "Not connected to Discord right now; reconnecting.";
    case "login":
      return "Logging in from chat is not available yet: set the DISCORD_BOT_TOKEN secret and restart (README, \"Discord bridge\").";
    default:
      return `Unknown command ${JSON.stringify(verb)}. Say "help" for the list.`;
  }
}
