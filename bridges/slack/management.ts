import { type BridgeCommand, runManagementCommand } from "../core/management";
import type { slackBridge } from "./bridge-object";
import type { SlackConfig } from "./config";
import { installLink } from "./oauth";

export interface SlackManagementContext {
  env: Env;
  config: SlackConfig;
  bridge: ReturnType<typeof slackBridge>;
}

/** The bridge bot's commands in a management room (a room the owner invited the bot to). */
export function slackCommands({ env, config, bridge }: SlackManagementContext): BridgeCommand[] {
  return [
    {
      name: "login",
      help: "a link that installs the Slack app in a workspace (OAuth), with your user token",
      run: async () => {
        if (config.oauth === undefined) return "Installing from here needs SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (README, \"Slack bridge\").";
        return `Open this link to install the app in your workspace (it works once, for 15 minutes):\n${installLink(env.PUBLIC_BASEURL, await bridge.issueOAuthState())}`;
      },
    },
    {
      name: "logout",
      usage: "<workspace id>",
      help: "forget a workspace's installed tokens",
      run: async ([team]) => {
        if (team === undefined) return "Say which workspace: logout <workspace id> (see list).";
        return (await bridge.uninstall(team)) ? `Forgot the tokens of workspace ${team}.` : `Workspace ${team} is not installed here.`;
      },
    },
    {
      name: "bridge",
      usage: "<channel id> [workspace id]",
      help: "open a conversation's room now, with its recent messages (the bot must be in the channel)",
      run: async ([channel, workspace]) => {
        if (channel === undefined || !/^[CGD][A-Z0-9]+$/.test(channel)) return "Say which conversation: bridge <channel id>, e.g. bridge C0123ABCD.";
        const teams = await bridge.teams();
        const team = workspace ?? (teams.length === 1 ? teams[0] : undefined);
        if (team === undefined || !teams.includes(team)) return `Say which workspace: bridge ${channel} <workspace id> (one of ${teams.join(", ") || "none: say \"login\""}).`;
        const result = await bridge.bridgeConversation(team, channel);
        return "roomId" in result ? `Bridged ${channel}: ${result.roomId} (you are invited).` : `Not bridged: ${result.error}.`;
      },
    },
    {
      name: "ping",
      help: "whether Slack accepts each workspace's bot token",
      run: async () => {
        const lines = await bridge.whoami();
        return lines.length === 0 ? "No workspace yet: say \"login\"." : lines.join("\n");
      },
    },
    {
      name: "status",
      help: "deliveries bridged and waiting, and the Socket Mode connection",
      run: async () => {
        const s = await bridge.status();
        const socket = s.socket.enabled ? `Socket Mode ${s.socket.connected ? "connected" : "reconnecting"} (${s.socket.drops} drops, ${s.socket.gapFills} gap fills)` : "Events API (no app token)";
        return `${s.eventsAccepted} events accepted, ${s.duplicatesDropped} duplicates dropped, ${s.pending} waiting; ${s.portals} portals; ${socket}.`;
      },
    },
    {
      name: "list",
      help: "installed workspaces and the bridged conversations",
      run: async () => {
        const installs = (await bridge.installs()).map((i) => `workspace ${i.teamId} (${i.teamName})`);
        const portals = (await bridge.portals()).map((p) => `${p.key}: ${p.roomId}`);
        return [...installs, ...(portals.length === 0 ? ["No conversations bridged yet."] : portals)].join("\n");
      },
    },
  ];
}

export function slackManagementReply(text: string, ctx: SlackManagementContext): Promise<string> {
  return runManagementCommand(text, slackCommands(ctx));
}
