import { z } from "zod";

/**
 * Application service registrations (Application Service API, "Registration"), parsed and compiled once.
 * Pure: no I/O, so the validation rules are unit-tested directly.
 */

const NamespaceSchema = z.object({ exclusive: z.boolean(), regex: z.string().min(1) });

const RegistrationSchema = z.object({
  id: z.string().min(1).max(255),
  /** null (or absent): the homeserver never pushes to this appservice. */
  url: z.url({ protocol: /^https?$/ }).nullable().optional(),
  as_token: z.string().min(1),
  hs_token: z.string().min(1),
  sender_localpart: z.string().regex(/^[a-z0-9._=\-/+]+$/, "must be a valid user id localpart"),
  namespaces: z
    .object({
      users: z.array(NamespaceSchema).default([]),
      aliases: z.array(NamespaceSchema).default([]),
      rooms: z.array(NamespaceSchema).default([]),
    })
    .default({ users: [], aliases: [], rooms: [] }),
  rate_limited: z.boolean().default(true),
  protocols: z.array(z.string()).default([]),
  receive_ephemeral: z.boolean().optional(),
  "de.sorunome.msc2409.push_ephemeral": z.boolean().optional(),
  /**
   * MSC3202, end-to-bridge encryption: device masquerading (`org.matrix.msc3202.device_id`), device lists and key
   * counts in transactions, and (with ephemeral data) to-device messages in transactions instead of device inboxes.
   */
  "org.matrix.msc3202": z.boolean().optional(),
});

export type RegistrationFile = z.infer<typeof RegistrationSchema>;

export interface Namespace {
  exclusive: boolean;
  /** The registration's regex, anchored at both ends (a full match), compiled once. */
  regex: RegExp;
  source: string;
}

/** One registered application service, as the homeserver uses it. */
export interface Appservice {
  id: string;
  url: string | null;
  asToken: string;
  hsToken: string;
  senderLocalpart: string;
  /** `@sender_localpart:server`, the user the as_token acts as without `user_id`. */
  senderUserId: string;
  users: Namespace[];
  aliases: Namespace[];
  rooms: Namespace[];
  rateLimited: boolean;
  protocols: string[];
  receiveEphemeral: boolean;
  /** `org.matrix.msc3202` (see the schema). */
  msc3202: boolean;
}

export class RegistrationError extends Error {}

/**
 * Replaces `${NAME}` in every string of a registration with the secret `NAME` from the environment, so
 * registration files hold no tokens. A missing secret is an error naming it.
 */
export function resolveSecrets(value: unknown, secrets: Record<string, unknown>, where: string): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const secret = secrets[name];
      if (typeof secret !== "string" || secret === "") throw new RegistrationError(`${where}: secret \${${name}} is not set`);
      return secret;
    });
  }
  if (Array.isArray(value)) return value.map((v) => resolveSecrets(v, secrets, where));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveSecrets(v, secrets, where)]));
  }
  return value;
}

/** A namespace regex as the homeserver applies it: a full match. */
export const anchoredRegex = (source: string): RegExp => new RegExp(`^(?:${source})$`);

function compileNamespace(ns: { exclusive: boolean; regex: string }, where: string): Namespace {
  try {
    return { exclusive: ns.exclusive, regex: anchoredRegex(ns.regex), source: ns.regex };
  } catch (err) {
    throw new RegistrationError(`${where}: invalid regex ${JSON.stringify(ns.regex)} (${(err as Error).message})`);
  }
}

/** Validates one registration (secrets already resolved) and compiles its namespaces. */
export function compileRegistration(raw: unknown, serverName: string, where: string): Appservice {
  const parsed = RegistrationSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new RegistrationError(`${where}: ${problems.join("; ")}`);
  }
  const r = parsed.data;
  const label = `${where} (id ${JSON.stringify(r.id)})`;
  if (r.as_token === r.hs_token) throw new RegistrationError(`${label}: as_token and hs_token must differ`);
  const compile = (kind: "users" | "aliases" | "rooms") =>
    r.namespaces[kind].map((ns, i) => compileNamespace(ns, `${label}: namespaces.${kind}[${i}]`));
  return {
    id: r.id,
    url: r.url ? r.url.replace(/\/+$/, "") : null,
    asToken: r.as_token,
    hsToken: r.hs_token,
    senderLocalpart: r.sender_localpart,
    senderUserId: `@${r.sender_localpart}:${serverName}`,
    users: compile("users"),
    aliases: compile("aliases"),
    rooms: compile("rooms"),
    rateLimited: r.rate_limited,
    protocols: r.protocols,
    receiveEphemeral: r.receive_ephemeral === true || r["de.sorunome.msc2409.push_ephemeral"] === true,
    msc3202: r["org.matrix.msc3202"] === true,
  };
}

export const matchesAny = (namespaces: Namespace[], value: string): boolean => namespaces.some((ns) => ns.regex.test(value));
export const matchesExclusive = (namespaces: Namespace[], value: string): boolean =>
  namespaces.some((ns) => ns.exclusive && ns.regex.test(value));

/** Whether the appservice may act as (and register) this user: its sender or a user in its namespaces. */
export function ownsUser(as: Appservice, userId: string): boolean {
  return userId === as.senderUserId || matchesAny(as.users, userId);
}

/**
 * Checks the registrations against each other: ids and tokens unique, and no exclusive namespace of one
 * appservice claiming what another owns. Overlap of two arbitrary regexes is undecidable, so this catches the
 * conflicts that happen in practice: the same exclusive regex twice, or an exclusive namespace that covers
 * another appservice's sender.
 */
export function checkRegistry(appservices: { as: Appservice; where: string }[]): void {
  const ids = new Map<string, string>();
  const tokens = new Map<string, string>();
  for (const { as, where } of appservices) {
    const label = `${where} (id ${JSON.stringify(as.id)})`;
    const sameId = ids.get(as.id);
    if (sameId) throw new RegistrationError(`${label}: duplicate id, also used by ${sameId}`);
    ids.set(as.id, label);
    for (const [kind, token] of [["as_token", as.asToken], ["hs_token", as.hsToken]] as const) {
      const other = tokens.get(token);
      if (other) throw new RegistrationError(`${label}: ${kind} is also used by ${other}`);
      tokens.set(token, `${label} ${kind}`);
    }
  }
  for (const [i, a] of appservices.entries()) {
    for (const b of appservices.slice(i + 1)) {
      for (const kind of ["users", "aliases", "rooms"] as const) {
        for (const na of a.as[kind]) {
          const clash = b.as[kind].find((nb) => nb.source === na.source && (na.exclusive || nb.exclusive));
          if (clash) {
            throw new RegistrationError(
              `${b.where} (id ${JSON.stringify(b.as.id)}): namespaces.${kind} regex ${JSON.stringify(clash.source)} overlaps the exclusive namespace of ${a.where} (id ${JSON.stringify(a.as.id)})`,
            );
          }
        }
      }
      for (const [x, y] of [[a, b], [b, a]] as const) {
        if (matchesExclusive(x.as.users, y.as.senderUserId)) {
          throw new RegistrationError(
            `${y.where} (id ${JSON.stringify(y.as.id)}): sender ${y.as.senderUserId} is inside the exclusive user namespace of ${x.where} (id ${JSON.stringify(x.as.id)})`,
          );
        }
      }
    }
  }
}
