// Remote files into the media repository: attachments as the ghost, avatars and icons, within the size cap.
import { TooLargeError, readCapped } from "../download";
import { mediaContent } from "../matrix/media";
import { type RemoteAttachment, canDownloadMedia } from "../network";
import type { Bridge } from "./bridge";

/** A remote file's bytes, through the connector when it downloads itself (credentials), within the size cap. */
async function download(bridge: Bridge, url: string): Promise<{ bytes: ArrayBuffer; mimetype: string | null }> {
  const res = canDownloadMedia(bridge.api) ? await bridge.api.downloadRemoteMedia(url) : await fetch(url);
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`download answered ${res.status}`);
  }
  return { bytes: await readCapped(res, bridge.maxMediaBytes), mimetype: res.headers.get("content-type") };
}

/**
 * Downloads a remote file and uploads it to the media repository as the ghost (Client-Server API, so the
 * homeserver's own limits apply): the media event's content. A file that cannot be fetched or stored is shown as
 * a link instead.
 */
export async function attachmentContent(bridge: Bridge, ghost: string, attachment: RemoteAttachment): Promise<object> {
  try {
    if (attachment.size > bridge.maxMediaBytes) throw new TooLargeError(`${attachment.size} bytes is over the ${bridge.maxMediaBytes}-byte limit`);
    const file = await download(bridge, attachment.url);
    const mimetype = attachment.mimetype ?? file.mimetype ?? undefined;
    const mxc = await bridge.intent.upload(ghost, file.bytes, mimetype ?? "application/octet-stream", attachment.filename);
    return mediaContent(attachment, mxc, file.bytes.byteLength, mimetype);
  } catch (err) {
    console.warn(`attachment ${attachment.filename} not uploaded: ${(err as Error).message}`);
    return { msgtype: "m.text", body: `${attachment.filename}: ${attachment.url}` };
  }
}

/** A remote image (avatar, icon) uploaded as `asUser`: its mxc, or undefined (logged) when it cannot be had. */
export async function uploadImage(bridge: Bridge, asUser: string, url: string): Promise<string | undefined> {
  try {
    const file = await download(bridge, url);
    return await bridge.intent.upload(asUser, file.bytes, file.mimetype ?? "application/octet-stream", "avatar");
  } catch (err) {
    console.warn(`image ${url} not uploaded: ${(err as Error).message}`);
    return undefined;
  }
}
