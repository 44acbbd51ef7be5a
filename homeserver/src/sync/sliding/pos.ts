import { MatrixError } from "../../http/errors";
import type { SyncPosition } from "../token";

/**
 * The `pos` of a sliding sync response: `s<events>_<shared>_<generation>`. Its `s<events>` prefix names the same point
 * of the event stream as a /sync token, so /messages accepts it as `from` (services/pagination.ts), as MSC4186 asks.
 */
export interface SlidingPos extends SyncPosition {
  generation: number;
}

export const unknownPos = (message: string) => new MatrixError(400, "M_UNKNOWN_POS", message);

export function formatPos(pos: SlidingPos): string {
  return `s${pos.events}_${pos.shared}_${pos.generation}`;
}

/** Anything that is not a pos this server issued is M_UNKNOWN_POS, so the client starts over rather than stalls. */
export function parsePos(token: string): SlidingPos {
  const match = /^s(\d{1,15})_(\d{1,15})_(\d{1,15})$/.exec(token);
  if (!match) throw unknownPos("Unknown pos");
  return { events: Number(match[1]), shared: Number(match[2]), generation: Number(match[3]) };
}
