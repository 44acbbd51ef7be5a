import { type PortalKey, remoteMessageId } from "../core/ids";
import type {
  ChatInfo,
  EditHandlingNetworkApi,
  MatrixMessage,
  NetworkConnector,
  ReactionHandlingNetworkApi,
  ReactionRemovingNetworkApi,
  RedactionHandlingNetworkApi,
} from "../core/network";
import type { RemoteMessageId } from "../core/ids";
import { DISCORD_GHOST_PREFIX, DISCORD_NETWORK_ID, DiscordConfigError, loadDiscordConfig } from "./config";
import { discordDisplayName } from "./d2m/convert-message";
import { matrixToDiscord } from "./m2d/convert-message";
import { DiscordRest } from "./rest";

/** The Discord user id behind one of our ghosts (`@_discord_<snowflake>:server`), else undefined. */
export function discordIdOfGhost(userId: string, serverName: string): string | undefined {
  const m = /^@([^:]+):(.+)$/.exec(userId);
  if (!m || m[2] !== serverName || !m[1]?.startsWith(DISCORD_GHOST_PREFIX)) return undefined;
  const id = m[1].slice(DISCORD_GHOST_PREFIX.length);
  return /^\d+$/.test(id) ? id : undefined;
}

/** The bot account's side of Discord: channel info and sending (one portal key = one channel id). */
export class DiscordNetworkApi implements EditHandlingNetworkApi, ReactionHandlingNetworkApi, ReactionRemovingNetworkApi, RedactionHandlingNetworkApi {
  constructor(
    private readonly rest: DiscordRest,
    private readonly serverName: string,
  ) {}

  async getChatInfo(key: PortalKey): Promise<ChatInfo> {
    const channel = await this.rest.channel(key);
    const dmName = channel.recipients?.map(discordDisplayName).join(", ");
    const info: ChatInfo = { name: channel.name ?? dmName ?? `Discord channel ${key}` };
    if (channel.topic) info.topic = channel.topic;
    return info;
  }

  async handleMatrixMessage(key: PortalKey, message: MatrixMessage): Promise<{ messageId: ReturnType<typeof remoteMessageId> }> {
    const { content, mentionedUserIds } = matrixToDiscord(message.content, (userId) => discordIdOfGhost(userId, this.serverName));
    // Only what the person pinged through pills may ping: never @everyone or roles by accident.
    const reply = message.replyTo;
    const sent = await this.rest.createMessage(key, {
      content,
      // A reply pings its author, as Discord's own client does by default.
      allowed_mentions: { parse: [], users: mentionedUserIds, ...(reply !== undefined ? { replied_user: true } : {}) },
      // A reply whose target is gone is still sent, as a plain message.
      ...(reply !== undefined ? { message_reference: { message_id: reply, channel_id: key, fail_if_not_exists: false } } : {}),
    });
    return { messageId: remoteMessageId(sent.id) };
  }

  /** The bot's own message, edited (PATCH): its MESSAGE_UPDATE echo is recognised by the portal. */
  async handleMatrixEdit(key: PortalKey, target: RemoteMessageId, message: MatrixMessage): Promise<void> {
    const { content, mentionedUserIds } = matrixToDiscord(message.content, (userId) => discordIdOfGhost(userId, this.serverName));
    await this.rest.editMessage(key, target, { content, allowed_mentions: { parse: [], users: mentionedUserIds } });
  }

  async handleMatrixReaction(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void> {
    await this.rest.addReaction(key, target, emoji);
  }

  async handleMatrixReactionRemove(key: PortalKey, target: RemoteMessageId, emoji: string): Promise<void> {
    await this.rest.removeOwnReaction(key, target, emoji);
  }

  async handleMatrixRedaction(key: PortalKey, target: RemoteMessageId): Promise<void> {
    await this.rest.deleteMessage(key, target);
  }
}

export const discordConnector: NetworkConnector = {
  networkId: DISCORD_NETWORK_ID,
  identity: (env) => loadDiscordConfig(env)?.identity ?? null,
  loadApi: (env) => {
    const config = loadDiscordConfig(env);
    if (!config) throw new DiscordConfigError("The Discord bridge is not enabled (DISCORD_BRIDGE_ENABLED)");
    return new DiscordNetworkApi(new DiscordRest({ baseUrl: config.apiBaseUrl, botToken: config.botToken }), config.identity.serverName);
  },
};
