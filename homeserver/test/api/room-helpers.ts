import { expect } from "vitest";
import { type TestUser, call } from "../helpers";

export const r = (roomId: string) => encodeURIComponent(roomId);

export async function createRoom(user: TestUser, body: Record<string, unknown> = {}): Promise<string> {
  const res = await call("POST", "/_matrix/client/v3/createRoom", { token: user.accessToken, body });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body["room_id"] as string;
}

export function sendMessage(user: TestUser, roomId: string, body: string, txnId: string = crypto.randomUUID()) {
  return call("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/send/m.room.message/${txnId}`, {
    token: user.accessToken,
    body: { msgtype: "m.text", body },
  });
}

export function sendState(user: TestUser, roomId: string, type: string, stateKey: string, content: unknown) {
  return call("PUT", `/_matrix/client/v3/rooms/${r(roomId)}/state/${type}/${encodeURIComponent(stateKey)}`, { token: user.accessToken, body: content });
}

/** Invites and joins `member` to `owner`'s room. */
export async function joinUser(owner: TestUser, member: TestUser, roomId: string): Promise<void> {
  expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/invite`, { token: owner.accessToken, body: { user_id: member.userId } })).status).toBe(200);
  expect((await call("POST", `/_matrix/client/v3/rooms/${r(roomId)}/join`, { token: member.accessToken })).status).toBe(200);
}

export interface ClientEventJson {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Record<string, unknown>;
  unsigned?: Record<string, unknown>;
}

export async function messagesOf(user: TestUser, roomId: string, query = "dir=b&limit=100") {
  return call<{ chunk: ClientEventJson[]; start: string; end?: string; state?: ClientEventJson[] }>(
    "GET",
    `/_matrix/client/v3/rooms/${r(roomId)}/messages?${query}`,
    { token: user.accessToken },
  );
}
