import { Hono } from "hono";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { roomVersionsCapability } from "../../rooms/room-versions";

/**
 * Spec versions whose features clients may rely on. v1.11 is advertised since authenticated media works; later ones only
 * once the features they make mandatory exist here, since clients switch behaviour on them.
 */
const SPEC_VERSIONS = ["v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"];

export const meta = new Hono<AppEnv>()
  /** GET /_matrix/client/versions */
  .get("/versions", (c) => c.json({ versions: SPEC_VERSIONS, unstable_features: { "org.matrix.simplified_msc3575": true } }))
  /** GET /_matrix/client/v3/capabilities */
  .get("/v3/capabilities", requireAuth, (c) =>
    c.json({
      capabilities: {
        "m.change_password": { enabled: true },
        "m.set_displayname": { enabled: true },
        "m.set_avatar_url": { enabled: true },
        "m.3pid_changes": { enabled: false },
        "m.get_login_token": { enabled: false },
        "m.profile_fields": { enabled: true, allowed: ["displayname", "avatar_url"] },
        "m.room_versions": roomVersionsCapability(),
      },
    }),
  );

/** The server-discovery documents under /.well-known/matrix. */
export const wellKnown = new Hono<AppEnv>()
  /** GET /.well-known/matrix/client */
  .get("/client", (c) => c.json({ "m.homeserver": { base_url: c.var.config.PUBLIC_BASEURL.replace(/\/$/, "") } }))
  /** GET /.well-known/matrix/server: federation goes to the public base URL's host and port. */
  .get("/server", (c) => {
    const url = new URL(c.var.config.PUBLIC_BASEURL);
    const port = url.port || (url.protocol === "https:" ? "443" : "80");
    return c.json({ "m.server": `${url.hostname}:${port}` });
  });
