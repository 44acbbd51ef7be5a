import { type PortalKey, type RemoteMessageId, remoteMessageId } from "../core/ids";
import type { ChatInfo, MatrixMessage, NetworkApi, NetworkConnector } from "../core/network";
import { SLACK_NETWORK_ID, SlackConfigError, loadSlackConfig, slackUserOfGhost } from "./config";
import { matrixToSlack } from "./m2s/convert-message";
import { SlackWebApi } from "./web-api";

/** The Slack conversation of a portal key (`TEAM:CHANNEL`). */
export function splitPortalKey(key: PortalKey): { team: string; channel: string } {
  const [team = "", channel = ""] = key.split(":", 2);
  return { team, channel };
}

/** The bot token's side of Slack: conversation info and posting (one portal key = one conversation). */
export class SlackNetworkApi implements NetworkApi {
  constructor(
    private readonly api: SlackWebApi,
    private readonly serverName: string,
  ) {}

  async getChatInfo(key: PortalKey): Promise<ChatInfo> {
    const channel = await this.api.conversationsInfo(splitPortalKey(key).channel);
    const info: ChatInfo = { name: channel.name ?? (channel.is_im ? "Slack direct message" : `Slack conversation ${channel.id}`) };
    const topic = channel.topic?.value || channel.purpose?.value;
    if (topic) info.topic = topic;
    return info;
  }

  async handleMatrixMessage(key: PortalKey, message: MatrixMessage): Promise<{ messageId: RemoteMessageId }> {
    const { team, channel } = splitPortalKey(key);
    const text = matrixToSlack(message.content, (userId) => {
      const ghost = slackUserOfGhost(userId, this.serverName);
      return ghost?.team === team ? ghost.user : undefined;
    });
    // The ts Slack gives the message is its id: stored in the message map, it marks the echo event as ours.
    return { messageId: remoteMessageId(await this.api.postMessage(channel, text)) };
  }
}

export const slackConnector: NetworkConnector = {
  networkId: SLACK_NETWORK_ID,
  identity: (env) => loadSlackConfig(env)?.identity ?? null,
  loadApi: (env) => {
    const config = loadSlackConfig(env);
    if (!config) throw new SlackConfigError("The Slack bridge is not enabled (SLACK_BRIDGE_ENABLED)");
    return new SlackNetworkApi(new SlackWebApi({ baseUrl: config.apiBaseUrl, token: config.botToken }), config.identity.serverName);
  },
};
