import { MatrixError } from "../http/errors";
import type { RoomObject, RoomResult } from "../rooms/room-object";

/** The RoomObject that serializes writes to a room. */
export function roomObject(env: Env, roomId: string): DurableObjectStub<RoomObject> {
  return env.ROOMS.get(env.ROOMS.idFromName(roomId));
}

/** Turns a RoomObject answer into its value, or throws the Matrix error it carries. */
export function unwrap<T>(result: RoomResult<T>): T {
  if (result.ok) return result.value;
  throw new MatrixError(result.status, result.errcode, result.error);
}
