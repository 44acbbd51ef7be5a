import { GatewayDispatchEvents } from "discord-api-types/gateway/v10";
import type { PortalKey } from "../../core/ids";
import type { RemoteEventResult } from "../../core/portal-object";
import type { RemoteChange, RemoteEvent } from "../../core/network";
import { MessageCreate, MessageDelete, MessageReaction, MessageUpdate, TypingStart } from "../gateway/payloads";
import { remoteDeletion, remoteEdit, remoteMessage, remoteReaction, remoteTyping } from "./convert-message";

/** What the dispatcher's actions may do: all I/O is here, injected (tests pass fakes). */
export interface DispatchContext {
  ghostUserId(discordId: string): string;
  /** Queues a remote event to its portal (the portal object's serialized queue). */
  toPortal(event: RemoteEvent): Promise<RemoteEventResult>;
  /** Queues a change to a bridged message (or typing) to its portal, in order with its messages. */
  toPortalChange(change: RemoteChange): Promise<unknown>;
  /** The bot's own Discord user id (from READY): its reactions and typing are the bridge's own doing. */
  botUserId(): string | null;
  now(): number;
  /** Remembers which portal a Matrix room belongs to, for the way back. */
  rememberPortal(roomId: string, key: PortalKey): void;
}

type Handler = (ctx: DispatchContext, data: unknown) => Promise<void>;

/** MESSAGE_CREATE: a new message in a channel the bot can read. */
async function messageCreate(ctx: DispatchContext, data: unknown): Promise<void> {
  const message = MessageCreate.parse(data);
  // Embeds and stickers are not bridged yet: a message with neither text nor files has nothing to show.
  if (message.content === "" && message.attachments.length === 0) return;
  const event = remoteMessage(message, ctx.ghostUserId);
  const result = await ctx.toPortal(event);
  ctx.rememberPortal(result.roomId, event.portalKey);
}

/** MESSAGE_UPDATE: an edit (other updates, such as embed unfurls, carry no new text). */
async function messageUpdate(ctx: DispatchContext, data: unknown): Promise<void> {
  const edit = remoteEdit(MessageUpdate.parse(data), ctx.ghostUserId);
  if (edit) await ctx.toPortalChange(edit);
}

async function messageDelete(ctx: DispatchContext, data: unknown): Promise<void> {
  await ctx.toPortalChange(remoteDeletion(MessageDelete.parse(data)));
}

function reaction(kind: "reaction" | "reaction_remove"): Handler {
  return async (ctx, data) => {
    const parsed = MessageReaction.parse(data);
    // The bot reacts only for the person, from Matrix: its reactions coming back are echoes.
    if (parsed.user_id === ctx.botUserId()) return;
    const change = remoteReaction(kind, parsed, ctx.now());
    if (change) await ctx.toPortalChange(change);
  };
}

async function typingStart(ctx: DispatchContext, data: unknown): Promise<void> {
  const parsed = TypingStart.parse(data);
  if (parsed.user_id === ctx.botUserId()) return;
  await ctx.toPortalChange(remoteTyping(parsed));
}

/** Routing only, named after the gateway events; events without a handler are ignored. */
const handlers: Partial<Record<string, Handler>> = {
  [GatewayDispatchEvents.MessageCreate]: messageCreate,
  [GatewayDispatchEvents.MessageUpdate]: messageUpdate,
  [GatewayDispatchEvents.MessageDelete]: messageDelete,
  [GatewayDispatchEvents.MessageReactionAdd]: reaction("reaction"),
  [GatewayDispatchEvents.MessageReactionRemove]: reaction("reaction_remove"),
  [GatewayDispatchEvents.TypingStart]: typingStart,
};

export async function dispatch(ctx: DispatchContext, eventName: string, data: unknown): Promise<void> {
  await handlers[eventName]?.(ctx, data);
}
