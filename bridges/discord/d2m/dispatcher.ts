import { GatewayDispatchEvents } from "discord-api-types/gateway/v10";
import type { PortalKey } from "../../core/ids";
import type { RemoteEventResult } from "../../core/portal-object";
import type { RemoteEvent } from "../../core/network";
import { MessageCreate } from "../gateway/payloads";
import { remoteMessage } from "./convert-message";

/** What the dispatcher's actions may do: all I/O is here, injected (tests pass fakes). */
export interface DispatchContext {
  ghostUserId(discordId: string): string;
  /** Queues a remote event to its portal (the portal object's serialized queue). */
  toPortal(event: RemoteEvent): Promise<RemoteEventResult>;
  /** Remembers which portal a Matrix room belongs to, for the way back. */
  rememberPortal(roomId: string, key: PortalKey): void;
}

type Handler = (ctx: DispatchContext, data: unknown) => Promise<void>;

/** MESSAGE_CREATE: a new message in a channel the bot can read. */
async function messageCreate(ctx: DispatchContext, data: unknown): Promise<void> {
  const message = MessageCreate.parse(data);
  // Attachments, embeds and stickers are not bridged yet: a message with no text has nothing to show.
  if (message.content === "") return;
  const event = remoteMessage(message, ctx.ghostUserId);
  const result = await ctx.toPortal(event);
  ctx.rememberPortal(result.roomId, event.portalKey);
}

/** Routing only, named after the gateway events; events without a handler are ignored. */
const handlers: Partial<Record<string, Handler>> = {
  [GatewayDispatchEvents.MessageCreate]: messageCreate,
};

export async function dispatch(ctx: DispatchContext, eventName: string, data: unknown): Promise<void> {
  await handlers[eventName]?.(ctx, data);
}
