import { z } from "zod";

const positiveInt = z.coerce.number().int().positive();
const flag = z.enum(["true", "false"]).transform((v) => v === "true");

/** Every setting the homeserver reads from its environment, validated once. */
const ConfigSchema = z.object({
  SERVER_NAME: z
    .string()
    .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/, "must be a server name (host[:port])"),
  PUBLIC_BASEURL: z.url().transform((u) => (u.endsWith("/") ? u : `${u}/`)),
  REGISTRATION: z.enum(["open", "token", "closed"]),
  REGISTRATION_TOKEN: z.string().min(8).optional(),
  ACCESS_TOKEN_LIFETIME_MS: positiveInt,
  REFRESH_TOKEN_LIFETIME_MS: positiveInt,
  RATE_LIMIT_ENABLED: flag,
  RATE_LIMIT_LOGIN_PER_MINUTE: positiveInt,
  RATE_LIMIT_REGISTER_PER_MINUTE: positiveInt,
  MAX_REQUEST_BYTES: positiveInt,
  /** The legacy `m.login.password` flow of /v3/login; the OAuth 2.0 login page works either way. */
  PASSWORD_LOGIN_ENABLED: z.enum(["true", "false"]).default("true").transform((v) => v === "true"),
  MEDIA_MAX_UPLOAD_BYTES: positiveInt,
  MEDIA_USER_QUOTA_BYTES: positiveInt,
  MEDIA_THUMBNAIL_MAX_SOURCE_BYTES: positiveInt,
  MEDIA_THUMBNAIL_MAX_PIXELS: positiveInt,
  MEDIA_THUMBNAIL_MAX_JPEG_PIXELS: positiveInt,
  URL_PREVIEW_ENABLED: flag,
  /** Lets URL previews reach loopback/private addresses: for tests against a local server only. */
  URL_PREVIEW_ALLOW_PRIVATE: flag,
  URL_PREVIEW_MAX_BYTES: positiveInt,
  URL_PREVIEW_TIMEOUT_MS: positiveInt,
});

export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {}

const cache = new WeakMap<object, Config | ConfigError>();

/** Parses the environment into a Config once per env object; a bad setting is an error naming it. */
export function loadConfig(env: Env): Config {
  let cached = cache.get(env);
  if (!cached) {
    cached = parseConfig(env);
    cache.set(env, cached);
    if (cached instanceof ConfigError) console.error(cached.message);
  }
  if (cached instanceof ConfigError) throw cached;
  return cached;
}

function parseConfig(env: Env): Config | ConfigError {
  const result = ConfigSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    return new ConfigError(`Invalid homeserver configuration: ${problems.join("; ")}`);
  }
  const config = result.data;
  if (config.REGISTRATION === "token" && !config.REGISTRATION_TOKEN) {
    return new ConfigError("Invalid homeserver configuration: REGISTRATION_TOKEN: required when REGISTRATION is 'token'");
  }
  return config;
}
