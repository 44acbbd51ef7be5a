import { Hono } from "hono";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { account } from "./api/client/account";
import { devices } from "./api/client/devices";
import { login } from "./api/client/login";
import { meta, wellKnown } from "./api/client/meta";
import { profile } from "./api/client/profile";
import { register } from "./api/client/register";
import { session } from "./api/client/session";
import { membership } from "./api/client/membership";
import { messages } from "./api/client/messages";
import { relations } from "./api/client/relations";
import { rooms } from "./api/client/rooms";
import { directory } from "./api/client/directory";
import { roomAdmin } from "./api/client/room-admin";
import { redaction } from "./api/client/redaction";
import { filters } from "./api/client/filters";
import { syncApi } from "./api/client/sync";
import { slidingSyncApi } from "./api/client/sliding-sync";
import { pushRules } from "./api/client/push-rules";
import { pushers } from "./api/client/pushers";
import { presence } from "./api/client/presence";
import { accountData } from "./api/client/account-data";
import { receipts } from "./api/client/receipts";
import { typing } from "./api/client/typing";
import { keys } from "./api/client/keys";
import { toDevice } from "./api/client/to-device";
import { roomKeys } from "./api/client/room-keys";
import { dehydratedDevice } from "./api/client/dehydrated-device";
import { appserviceApi } from "./appservice/ping";
import { thirdParty } from "./appservice/thirdparty";
import { loadAppservices } from "./appservice/registry";
import { clientMedia, legacyMedia } from "./api/client/media";
import { loadConfig } from "./config";
import { authMetadataRoutes, oauth } from "./oauth";
import { notFoundHandler, onError } from "./http/handlers";
import { discordBridgeRoutes, slackBridgeRoutes, startBridges } from "../../bridges";
import type { AppEnv } from "./http/types";

/**
 * Loads (once) and exposes the validated configuration, and checks the appservice registrations; a bad setting or
 * registration fails every request with its name.
 */
const withConfig = createMiddleware<AppEnv>(async function withConfig(c, next) {
  c.set("config", loadConfig(c.env));
  loadAppservices(c.env);
  await next();
});

/** CORS as the Client-Server API requires, so web clients on other origins (Element Web) can call us. */
const matrixCors = cors({
  origin: "*",
  allowMethods: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
  allowHeaders: ["X-Requested-With", "Content-Type", "Authorization"],
});

export function buildApp(): Hono<AppEnv> {
  const client = new Hono<AppEnv>()
    .route("/", meta)
    .route("/", register)
    .route("/", appserviceApi)
    .route("/", thirdParty)
    .route("/", login)
    .route("/", session)
    .route("/", account)
    .route("/", devices)
    .route("/", profile)
    .route("/", rooms)
    .route("/", directory)
    .route("/", roomAdmin)
    .route("/", membership)
    .route("/", messages)
    .route("/", relations)
    .route("/", accountData)
    .route("/", receipts)
    .route("/", typing)
    .route("/", redaction)
    .route("/", filters)
    .route("/", syncApi)
    .route("/", slidingSyncApi)
    .route("/", pushRules)
    .route("/", pushers)
    .route("/", presence)
    .route("/", keys)
    .route("/", toDevice)
    .route("/", roomKeys)
    .route("/", dehydratedDevice);

  // Not strict: `/state/{type}/` (empty state key, trailing slash) must reach the same route as `/state/{type}`.
  const app = new Hono<AppEnv>({ strict: false });
  app.use("*", matrixCors);
  app.use("*", withConfig);
  app.use("*", startBridges);
  app.route("/_matrix/client", client);
  app.route("/_matrix/client", authMetadataRoutes);
  app.route("/_matrix/client", clientMedia);
  app.route("/_matrix/media", legacyMedia);
  app.route("/", oauth);
  app.route("/.well-known/matrix", wellKnown);
  app.route("/_bridges/discord", discordBridgeRoutes);
  app.route("/_bridges/slack", slackBridgeRoutes);
  app.onError(onError);
  app.notFound(notFoundHandler(app));
  return app;
}
