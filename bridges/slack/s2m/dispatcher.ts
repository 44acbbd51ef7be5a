import type { PortalKey } from "../../core/ids";
import type { RemoteEvent } from "../../core/network";
import type { RemoteEventResult } from "../../core/portal-object";
import { type EventCallback, MessageEvent } from "../payloads";
import { mentionedUsers, remoteMessage } from "./convert-message";

/** What the dispatcher's actions may do: all I/O is here, injected (tests pass fakes). */
export interface SlackDispatchContext {
  /** The workspace the bot token belongs to (auth.test, cached): the only one this bridge can act in. */
  botTeamId(): Promise<string>;
  ghostUserId(team: string, slackUserId: string): string;
  /** Display names of users of a workspace (users.info, cached); unknown ones are left out. */
  displayNames(team: string, slackUserIds: string[]): Promise<Record<string, string>>;
  /** Queues a remote event to its portal (the portal object's serialized queue). */
  toPortal(event: RemoteEvent): Promise<RemoteEventResult>;
  /** Remembers which portal a Matrix room belongs to, for the way back. */
  rememberPortal(roomId: string, key: PortalKey): Promise<void>;
}

/**
 * Subtypes bridged as plain messages. Others (message_changed, message_deleted, channel_join, file_share ...)
 * are not bridged yet; bot_message (legacy integrations) has no user to make a ghost of.
 */
const PLAIN_SUBTYPES = new Set<string | undefined>([undefined, "thread_broadcast"]);

/** `message`: a new message in a conversation the bot is in. */
async function message(ctx: SlackDispatchContext, envelope: EventCallback): Promise<void> {
  const event = MessageEvent.parse(envelope.event);
  if (!PLAIN_SUBTYPES.has(event.subtype) || event.user === undefined || event.text === "") return;
  const team = envelope.team_id;
  const names = await ctx.displayNames(team, [event.user, ...mentionedUsers(event.text)]);
  const converted = remoteMessage(team, { ...event, user: event.user }, {
    ghostUserId: (id) => ctx.ghostUserId(team, id),
    displayName: (id) => names[id] ?? id,
  });
  // Our own chat.postMessage comes back as a message event too: the portal finds its ts in the message map.
  const result = await ctx.toPortal(converted);
  await ctx.rememberPortal(result.roomId, converted.portalKey);
}

type Handler = (ctx: SlackDispatchContext, envelope: EventCallback) => Promise<void>;

/** Routing only, by the inner event's type; events without a handler are acknowledged and ignored. */
const handlers: Partial<Record<string, Handler>> = { message };

export async function dispatch(ctx: SlackDispatchContext, envelope: EventCallback): Promise<void> {
  const handler = handlers[envelope.event.type];
  if (handler === undefined) return;
  // An app installed in several workspaces gets all their events with one signing secret; one bot token
  // can read and post in its own workspace only.
  const team = await ctx.botTeamId();
  if (envelope.team_id !== team) {
    console.warn(`slack: event ${envelope.event_id} of workspace ${envelope.team_id} ignored: the bot token is for ${team}`);
    return;
  }
  await handler(ctx, envelope);
}
