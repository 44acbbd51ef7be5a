// Worker secrets (set with `wrangler secret put`, or `.dev.vars` locally).
// `wrangler types` only sees vars from wrangler.toml, so secrets are declared here.
declare namespace Cloudflare {
  interface Env {
    REGISTRATION_TOKEN?: string;
  }
}
