import { invalidParam } from "../http/errors";

/**
 * Room pagination tokens name a point in the global event stream: `s<N>` is "just after the event with stream
 * ordering N". Backwards pagination from it returns N and older; forwards returns events after N.
 */
export function positionToken(streamOrdering: number): string {
  return `s${streamOrdering}`;
}

export function parsePositionToken(token: string, name = "from"): number {
  const match = /^s(\d{1,15})$/.exec(token);
  if (!match) throw invalidParam(`Invalid ${name} token`);
  return Number(match[1]);
}
