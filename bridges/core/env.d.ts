// Bridge core settings shared by every bridge. Optional, so not in wrangler.toml [vars]; secrets go in .dev.vars locally.
declare namespace Cloudflare {
  interface Env {
    /** Secret: the key material (at least 32 characters) that encrypts bridge tokens at rest (core/secrets.ts). */
    BRIDGE_SECRET_KEY?: string;
  }
}
