// The person's avatar at a public URL for Discord (a webhook's avatar_url): the homeserver's media is authenticated,
// so the bridge serves exactly the avatars it handed out, each under an HMAC of its mxc:// URI.
import { encodeBase64Url } from "../../homeserver/src/util/base64";
import { equalSecrets } from "../../homeserver/src/util/hash";

/** HKDF's info: this key signs avatar URLs and nothing else (the secret also seals tokens). */
const HKDF_INFO = new TextEncoder().encode("matrix-workers discord public avatar v1");
const MIN_SECRET_LENGTH = 32;
/** Where the bridge's routes are mounted, under PUBLIC_BASEURL. */
const AVATAR_PATH = "_bridges/discord/avatar";

type SigningEnv = { BRIDGE_SECRET_KEY?: string | undefined; PUBLIC_BASEURL: string };

async function signature(env: SigningEnv, serverName: string, mediaId: string): Promise<string | null> {
  const secret = env.BRIDGE_SECRET_KEY;
  if (secret === undefined || secret.length < MIN_SECRET_LENGTH) return null;
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"]);
  const key = await crypto.subtle.deriveKey({ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: HKDF_INFO }, material, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${serverName}/${mediaId}`));
  return encodeBase64Url(new Uint8Array(mac));
}

/** A public URL of an mxc:// avatar, or undefined when there is none to give (no secret, not an mxc URI). */
export async function publicAvatarUrl(env: SigningEnv, mxc: string | undefined): Promise<string | undefined> {
  const m = mxc === undefined ? null : /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(mxc);
  if (!m) return undefined;
  const [serverName, mediaId] = [m[1]!, m[2]!];
  const sig = await signature(env, serverName, mediaId);
  return sig === null ? undefined : new URL(`${AVATAR_PATH}/${encodeURIComponent(serverName)}/${mediaId}/${sig}`, env.PUBLIC_BASEURL).toString();
}

/** Whether `sig` is the bridge's signature of this avatar. */
export async function isSignedAvatar(env: SigningEnv, serverName: string, mediaId: string, sig: string): Promise<boolean> {
  const expected = await signature(env, serverName, mediaId);
  return expected !== null && (await equalSecrets(expected, sig));
}
