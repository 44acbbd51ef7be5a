// The one reader of appservice transaction events for every bridge: raw event -> what the bridge acts on.
import { z } from "zod";
import type { MatrixChange, MatrixMedia, MatrixMessage, MatrixMessageContent } from "../network";

/** What a bridge acts on in a transaction: the person's messages and changes, invites, typing and read receipts. */
export type BridgeMatrixEvent =
  | { kind: "message"; message: MatrixMessage }
  | MatrixChange
  /** Someone invited `stateKey` to a room (the bot: a management room). */
  | { kind: "invite"; roomId: string; sender: string; stateKey: string }
  /** Ephemeral m.typing: everyone typing in the room now (an empty list: nobody). */
  | { kind: "typing"; roomId: string; userIds: string[] }
  /** Ephemeral m.receipt: the `m.read` receipts it carries, in order. */
  | { kind: "receipt"; roomId: string; reads: Array<{ eventId: string; userId: string }> };

const TEXT_MSGTYPES = ["m.text", "m.notice", "m.emote"] as const;
const MEDIA_MSGTYPES = ["m.image", "m.video", "m.audio", "m.file"] as const;

const TextContent = z.object({
  msgtype: z.enum(TEXT_MSGTYPES),
  body: z.string(),
  format: z.string().optional(),
  formatted_body: z.string().optional(),
});

const Relation = z.object({
  rel_type: z.string().optional(),
  event_id: z.string().optional(),
  is_falling_back: z.boolean().optional(),
  "m.in_reply_to": z.object({ event_id: z.string() }).optional(),
});

const RoomEventBase = z.object({ event_id: z.string(), room_id: z.string(), sender: z.string() });

const RoomMessage = RoomEventBase.extend({
  type: z.literal("m.room.message"),
  // Loose: the msgtype's own fields (url, filename, info) are read by MediaContent.
  content: z.looseObject({
    msgtype: z.string(),
    body: z.string(),
    format: z.string().optional(),
    formatted_body: z.string().optional(),
    "m.relates_to": Relation.optional(),
    "m.new_content": z.unknown().optional(),
  }),
});

/** An m.image / m.video / m.audio / m.file (unencrypted: the bridge downloads `url`). */
const MediaContent = z.object({
  msgtype: z.enum(MEDIA_MSGTYPES),
  body: z.string(),
  url: z.string().startsWith("mxc://"),
  filename: z.string().optional(),
  info: z.object({ mimetype: z.string().optional() }).optional(),
});

const Reaction = RoomEventBase.extend({
  type: z.literal("m.reaction"),
  content: z.object({ "m.relates_to": z.object({ rel_type: z.literal("m.annotation"), event_id: z.string(), key: z.string() }) }),
});

/** `redacts` at the top (room versions up to 10) or in the content (v11). */
const Redaction = RoomEventBase.extend({
  type: z.literal("m.room.redaction"),
  redacts: z.string().optional(),
  content: z.object({ redacts: z.string().optional() }),
});

const Invite = z.object({
  type: z.literal("m.room.member"),
  room_id: z.string(),
  sender: z.string(),
  state_key: z.string(),
  content: z.object({ membership: z.literal("invite") }),
});

const Typing = z.object({ type: z.literal("m.typing"), room_id: z.string(), content: z.object({ user_ids: z.array(z.string()) }) });

/** `{ [eventId]: { [receiptType]: { [userId]: { ts, thread_id? } } } }` */
const Receipt = z.object({
  type: z.literal("m.receipt"),
  room_id: z.string(),
  content: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown()))),
});

const Event = z.discriminatedUnion("type", [RoomMessage, Reaction, Redaction, Invite, Typing, Receipt]);

/**
 * A reply's body without its fallback: the leading quoted lines (`> <@user> text`) and the blank line after them,
 * which older clients still prepend (Client-Server API, "Rich replies"). A quote without that blank line is the
 * person's own text and stays.
 */
export function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(">")) i++;
  if (i === 0 || lines[i] !== "") return body;
  return lines.slice(i + 1).join("\n");
}

/** A formatted_body without the `<mx-reply>` element it begins with, if any (the HTML reply fallback). */
export function stripHtmlReplyFallback(html: string): string {
  return html.replace(/^\s*<mx-reply>[\s\S]*?<\/mx-reply>/i, "");
}

/** The text content the bridges send on: body, and the HTML body when the format is Matrix's HTML. */
function textContent(msgtype: MatrixMessageContent["msgtype"], body: string, format: string | undefined, html: string | undefined): MatrixMessageContent {
  const content: MatrixMessageContent = { msgtype, body };
  if (format === "org.matrix.custom.html" && html !== undefined) {
    content.format = format;
    content.formatted_body = html;
  }
  return content;
}

function parseMessage(event: z.infer<typeof RoomMessage>): BridgeMatrixEvent | null {
  const { event_id: eventId, room_id: roomId, sender, content } = event;
  const relation = content["m.relates_to"];
  if (relation?.rel_type === "m.replace") {
    const newContent = TextContent.safeParse(content["m.new_content"]);
    if (relation.event_id === undefined || !newContent.success) return null;
    const { msgtype, body, format, formatted_body: html } = newContent.data;
    return { kind: "edit", eventId, roomId, sender, targetEventId: relation.event_id, content: textContent(msgtype, body, format, html) };
  }
  const thread = relation?.rel_type === "m.thread" ? relation.event_id : undefined;
  // In a thread, `m.in_reply_to` with is_falling_back is only there for clients without threads: not a reply.
  const replyToEventId = thread !== undefined && relation?.is_falling_back === true ? undefined : relation?.["m.in_reply_to"]?.event_id;
  const relations = { ...(replyToEventId !== undefined ? { replyToEventId } : {}), ...(thread !== undefined ? { threadRootEventId: thread } : {}) };
  const body = replyToEventId !== undefined ? stripReplyFallback(content.body) : content.body;
  const html = content.formatted_body === undefined ? undefined : stripHtmlReplyFallback(content.formatted_body);
  const text = TextContent.shape.msgtype.safeParse(content.msgtype);
  if (text.success) return { kind: "message", message: { eventId, roomId, sender, content: textContent(text.data, body, content.format, html), ...relations } };
  const media = MediaContent.safeParse(content);
  if (!media.success) return null;
  const filename = media.data.filename ?? media.data.body;
  const file: MatrixMedia = { mxc: media.data.url, filename };
  if (media.data.info?.mimetype !== undefined) file.mimetype = media.data.info.mimetype;
  // The body is a caption only when a separate filename is given (Client-Server API, "Media captions").
  const caption = filename !== media.data.body ? textContent("m.text", body, content.format, html) : { msgtype: "m.text" as const, body: "" };
  return { kind: "message", message: { eventId, roomId, sender, content: caption, media: file, ...relations } };
}

/** Reads one event of a transaction (`events` or `ephemeral`): null for anything no bridge acts on. */
export function parseBridgeEvent(raw: unknown): BridgeMatrixEvent | null {
  const parsed = Event.safeParse(raw);
  if (!parsed.success) return null;
  const event = parsed.data;
  switch (event.type) {
    case "m.room.message":
      return parseMessage(event);
    case "m.reaction": {
      const { event_id: targetEventId, key } = event.content["m.relates_to"];
      return { kind: "reaction", eventId: event.event_id, roomId: event.room_id, sender: event.sender, targetEventId, key };
    }
    case "m.room.redaction": {
      const redacts = event.content.redacts ?? event.redacts;
      return redacts === undefined ? null : { kind: "redaction", eventId: event.event_id, roomId: event.room_id, sender: event.sender, redacts };
    }
    case "m.room.member":
      return { kind: "invite", roomId: event.room_id, sender: event.sender, stateKey: event.state_key };
    case "m.typing":
      return { kind: "typing", roomId: event.room_id, userIds: event.content.user_ids };
    case "m.receipt": {
      const reads = Object.entries(event.content).flatMap(([eventId, types]) => Object.keys(types["m.read"] ?? {}).map((userId) => ({ eventId, userId })));
      return reads.length === 0 ? null : { kind: "receipt", roomId: event.room_id, reads };
    }
  }
}
