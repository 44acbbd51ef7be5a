import { Hono } from "hono";
import type { AppEnv } from "../http/types";
import { account } from "./account";
import { authorize } from "./authorize";
import { endpoints } from "./endpoints";

export { authMetadataRoutes } from "./endpoints";

/** The OAuth 2.0 provider (next-generation auth): JSON endpoints, the sign-in and consent pages, the account page. */
export const oauth = new Hono<AppEnv>().route("/", endpoints).route("/", authorize).route("/", account);
