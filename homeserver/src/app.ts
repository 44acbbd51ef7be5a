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
import { rooms } from "./api/client/rooms";
import { redaction } from "./api/client/redaction";
import { loadConfig } from "./config";
import { notFoundHandler, onError } from "./http/handlers";
import type { AppEnv } from "./http/types";

/** Loads (once) and exposes the validated configuration; a bad setting fails every request with its name. */
const withConfig = createMiddleware<AppEnv>(async function withConfig(c, next) {
  c.set("config", loadConfig(c.env));
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
    .route("/", login)
    .route("/", session)
    .route("/", account)
    .route("/", devices)
    .route("/", profile)
    .route("/", rooms)
    .route("/", membership)
    .route("/", messages)
    .route("/", redaction);

  // Not strict: `/state/{type}/` (empty state key, trailing slash) must reach the same route as `/state/{type}`.
  const app = new Hono<AppEnv>({ strict: false });
  app.use("*", matrixCors);
  app.use("*", withConfig);
  app.route("/_matrix/client", client);
  app.route("/.well-known/matrix", wellKnown);
  app.onError(onError);
  app.notFound(notFoundHandler(app));
  return app;
}
