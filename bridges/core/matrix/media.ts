import type { RemoteAttachment } from "../network";

/** An m.image / m.video / m.audio / m.file event's content (Client-Server API, "m.room.message msgtypes"). */
export interface MatrixMediaContent {
  msgtype: "m.image" | "m.video" | "m.audio" | "m.file";
  body: string;
  filename: string;
  url: string;
  info: { mimetype?: string; size: number; w?: number; h?: number };
}

/** The msgtype a file is shown as, from its MIME type. */
export function mediaMsgtype(mimetype: string | undefined): MatrixMediaContent["msgtype"] {
  const major = mimetype?.split("/")[0];
  return major === "image" ? "m.image" : major === "video" ? "m.video" : major === "audio" ? "m.audio" : "m.file";
}

/** The content of an attachment uploaded as `mxc` (pure). Width and height only when the network gave them. */
export function mediaContent(attachment: RemoteAttachment, mxc: string, size: number, mimetype: string | undefined): MatrixMediaContent {
  const info: MatrixMediaContent["info"] = { size };
  if (mimetype !== undefined) info.mimetype = mimetype;
  if (attachment.width !== undefined) info.w = attachment.width;
  if (attachment.height !== undefined) info.h = attachment.height;
  return { msgtype: mediaMsgtype(mimetype), body: attachment.filename, filename: attachment.filename, url: mxc, info };
}
