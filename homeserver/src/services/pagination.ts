import { invalidParam } from "../http/errors";

/**
 * Room pagination tokens name a point in the global event stream: `s<N>` is "just after the event with stream
 * ordering N". Backwards pagination from it returns N and older; forwards returns events after N.
 * A /sync token (`s<N>_<M>`, sync/token.ts) or a sliding sync `pos` (`s<N>_<M>_<G>`, sync/sliding/pos.ts) is accepted too:
 * its event position is the same point.
 */
export function positionToken(streamOrdering: number): string {
  return `s${streamOrdering}`;
}

export function parsePositionToken(token: string, name = "from"): number {
  const match = /^s(\d{1,15})(?:_\d{1,15}){0,2}$/.exec(token);
  if (!match) throw invalidParam(`Invalid ${name} token`);
  return Number(match[1]);
}
