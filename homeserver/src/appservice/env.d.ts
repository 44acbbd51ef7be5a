// Application service settings (README "Registering an application service"). Optional, so not in wrangler.toml
// [vars], where `wrangler types` would type them as literals.
declare namespace Cloudflare {
  interface Env {
    /** JSON array of registrations; strings may reference secrets as `${NAME}`. */
    APPSERVICES?: string;
    /** Cap of the transaction retry backoff, in ms (default 5 minutes). */
    APPSERVICE_RETRY_MAX_MS?: string;
  }
}
