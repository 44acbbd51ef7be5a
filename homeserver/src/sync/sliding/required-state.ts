import type { StateSelector } from "../../storage/sliding-sync";
import type { RequiredStateRequest } from "./request";

/**
 * `required_state` of MSC4186, compiled once per request. Pure: no I/O.
 *
 * A room matched by several lists or subscriptions gets the union of their configs (MSC4186 "Combining room configs"),
 * kept as a list of configs and matched with OR, which handles wildcards without merging them.
 */

const MEMBER = "m.room.member";

interface Element {
  type?: string;
  state_key?: string;
}

export interface StateConfig {
  include: Element[];
  exclude: Element[];
  /** Member events only of the timeline's senders and targets, and those named explicitly. */
  lazy: boolean;
}

/** Normalizes either request shape; `$ME` becomes the user's ID. */
export function compileRequiredState(request: RequiredStateRequest | undefined, userId: string): StateConfig {
  if (request === undefined) return { include: [], exclude: [], lazy: false };
  const me = (key: string | undefined) => (key === "$ME" ? userId : key);
  if (!Array.isArray(request)) {
    const element = (e: Element): Element => ({ ...(e.type !== undefined && { type: e.type }), ...(e.state_key !== undefined && { state_key: me(e.state_key) }) });
    return { include: (request.include ?? []).map(element), exclude: (request.exclude ?? []).map(element), lazy: request.lazy_members === true };
  }
  const include: Element[] = [];
  let lazy = false;
  for (const [type, key] of request) {
    if (key === "$LAZY") {
      if (type === MEMBER) lazy = true;
      continue;
    }
    include.push({ ...(type !== "*" && { type }), ...(key !== "*" && { state_key: me(key) }) });
  }
  return { include, exclude: [], lazy };
}

const elementMatches = (e: Element, type: string, stateKey: string) =>
  (e.type === undefined || e.type === type) && (e.state_key === undefined || e.state_key === stateKey);

/** Whether one config asks for the state entry (lazy members aside). */
function configMatches(config: StateConfig, type: string, stateKey: string): boolean {
  if (config.exclude.some((e) => elementMatches(e, type, stateKey))) return false;
  // Lazy-loading: a wildcard does not pull in every member, only entries that name members explicitly.
  const eligible = config.lazy && type === MEMBER ? config.include.filter((e) => e.type === MEMBER || e.state_key !== undefined) : config.include;
  return eligible.some((e) => elementMatches(e, type, stateKey));
}

/** The union of several configs. */
export class CombinedState {
  constructor(readonly configs: StateConfig[]) {}

  matches(type: string, stateKey: string): boolean {
    return this.configs.some((c) => configMatches(c, type, stateKey));
  }

  /** Lazy members apply when some config asks for them and no config asks for every member. */
  get lazy(): boolean {
    const allMembers = this.configs.some((c) => !c.lazy && c.include.some((e) => (e.type === undefined || e.type === MEMBER) && e.state_key === undefined));
    return !allMembers && this.configs.some((c) => c.lazy);
  }

  /** What to read of current state for these configs plus `extra` entries (lazy members, heroes, name, avatar). */
  selector(extra: Element[]): StateSelector {
    const elements = this.configs.flatMap((c) => c.include.map((e) => ({ e, lazy: c.lazy }))).concat(extra.map((e) => ({ e, lazy: false })));
    const everyType = elements.filter(({ e }) => e.type === undefined);
    if (everyType.length > 0) {
      // Every type: all state, though members only as far as some element or the lazy set names them.
      const allMembers = elements.some(({ e, lazy }) => !lazy && (e.type === undefined || e.type === MEMBER) && e.state_key === undefined);
      if (allMembers) return { all: true, members: null };
      const members = new Set(elements.flatMap(({ e }) => ((e.type === undefined || e.type === MEMBER) && e.state_key !== undefined ? [e.state_key] : [])));
      return { all: true, members };
    }
    const types = new Map<string, Set<string> | null>();
    for (const { e } of elements) {
      const type = e.type!;
      const keys = types.get(type);
      if (keys === null) continue;
      if (e.state_key === undefined) types.set(type, null);
      else types.set(type, (keys ?? new Set()).add(e.state_key));
    }
    return { all: false, types };
  }

  /** A short digest, to tell whether a room's config changed since it was last sent. */
  digest(): string {
    return fnv1a(JSON.stringify(this.configs));
  }
}

/** 32-bit FNV-1a, hex: enough to notice a change of config, not a security boundary. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}
