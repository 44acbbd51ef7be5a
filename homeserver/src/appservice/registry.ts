import { ConfigError, loadConfig } from "../config";
import { type Appservice, RegistrationError, checkRegistry, compileRegistration, matchesExclusive, resolveSecrets } from "./registration";

/** A registration problem found at load: like a configuration error, every request answers it. */
export class AppserviceRegistryError extends ConfigError {}

/** The registered application services of this deployment, compiled once per environment. */
export class AppserviceRegistry {
  private readonly byToken = new Map<string, Appservice>();
  private readonly byIdMap = new Map<string, Appservice>();

  constructor(readonly all: readonly Appservice[]) {
    for (const as of all) {
      this.byToken.set(as.asToken, as);
      this.byIdMap.set(as.id, as);
    }
  }

  byAsToken(token: string): Appservice | undefined {
    return this.byToken.get(token);
  }

  byId(id: string): Appservice | undefined {
    return this.byIdMap.get(id);
  }

  /** The appservice that reserves this user id exclusively (its sender, or an exclusive user namespace). */
  exclusiveOwnerOfUser(userId: string): Appservice | undefined {
    return this.all.find((as) => as.senderUserId === userId || matchesExclusive(as.users, userId));
  }

  exclusiveOwnerOfAlias(alias: string): Appservice | undefined {
    return this.all.find((as) => matchesExclusive(as.aliases, alias));
  }
}

const cache = new WeakMap<object, AppserviceRegistry | AppserviceRegistryError>();

/**
 * Parses `APPSERVICES` (a JSON array of registrations, see README "Registering an application service") once per
 * env object. Strings may reference Worker secrets as `${NAME}`. Any problem names the entry and is thrown on
 * every call, so every request answers it.
 */
export function loadAppservices(env: Env): AppserviceRegistry {
  let cached = cache.get(env);
  if (!cached) {
    cached = parseRegistry(env);
    cache.set(env, cached);
    if (cached instanceof AppserviceRegistryError) console.error(cached.message);
  }
  if (cached instanceof AppserviceRegistryError) throw cached;
  return cached;
}

function parseRegistry(env: Env): AppserviceRegistry | AppserviceRegistryError {
  const serverName = loadConfig(env).SERVER_NAME;
  const source = env.APPSERVICES;
  if (source === undefined || source === "") return new AppserviceRegistry([]);
  let entries: unknown;
  try {
    entries = typeof source === "string" ? JSON.parse(source) : source;
  } catch (err) {
    return new AppserviceRegistryError(`Invalid APPSERVICES: not JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(entries)) return new AppserviceRegistryError("Invalid APPSERVICES: must be a JSON array of registrations");
  try {
    const compiled = entries.map((entry, i) => {
      // scripts/appservice-registry.mjs records which file an entry came from.
      const file = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>)["x-source"] : undefined;
      const where = typeof file === "string" ? `APPSERVICES[${i}] (${file})` : `APPSERVICES[${i}]`;
      const secrets = env as unknown as Record<string, unknown>;
      return { as: compileRegistration(resolveSecrets(entry, secrets, where), serverName, where), where };
    });
    checkRegistry(compiled);
    return new AppserviceRegistry(compiled.map((c) => c.as));
  } catch (err) {
    if (err instanceof RegistrationError) return new AppserviceRegistryError(`Invalid appservice registration: ${err.message}`);
    throw err;
  }
}
