import { z } from "zod";
import type { Config } from "../config";
import { MatrixError } from "../http/errors";
import { equalSecrets } from "../util/hash";
import { randomAlnum } from "../util/random";
import { getUser } from "../storage/users";
import { verifyPassword } from "./passwords";
import { parseUserIdentifier } from "./identifiers";

/** The user-interactive authentication stages this server offers. */
export type Stage = "m.login.dummy" | "m.login.password" | "m.login.registration_token";

/** The `auth` object of a request body. Unknown stage types are refused by the flow check, not here. */
export const AuthDict = z.looseObject({
  type: z.string().optional(),
  session: z.string().max(128).optional(),
});
export type AuthDict = z.infer<typeof AuthDict>;

interface UiaSession {
  /** Which operation (and for whom) the session was started for; it cannot be used for another. */
  purpose: string;
  completed: Stage[];
}

const SESSION_TTL_SECONDS = 15 * 60;
const sessionKey = (id: string) => `uia:${id}`;

/** The 401 body of user-interactive auth: not a plain Matrix error, so it serialises its own shape. */
export class UiaRequired extends MatrixError {
  constructor(
    readonly body: { flows: { stages: Stage[] }[]; params: object; session: string; completed: Stage[] },
    failure?: { errcode: string; error: string },
  ) {
    super(401, failure?.errcode ?? "M_UNAUTHORIZED", failure?.error ?? "Additional authentication required");
    this.failure = failure;
  }
  private readonly failure?: { errcode: string; error: string };

  override toJSON(): Record<string, unknown> {
    return { ...this.body, ...(this.failure ?? {}) };
  }
}

export interface UiaContext {
  kv: KVNamespace;
  db: D1Database;
  config: Config;
  /** e.g. `register` or `delete_devices:@alice:example.org`. */
  purpose: string;
  flows: Stage[][];
  /** The user the password stage must authenticate as (for authenticated endpoints). */
  userId?: string;
}

/**
 * Runs one round of user-interactive auth. Returns when a whole flow is complete; otherwise throws the 401 that
 * tells the client what is left (with an error when the stage it just tried failed).
 */
export async function userInteractiveAuth(ctx: UiaContext, auth: AuthDict | undefined): Promise<void> {
  const flows = ctx.flows.map((stages) => ({ stages }));
  const params = ctx.flows.flat().includes("m.login.registration_token") ? { "m.login.registration_token": {} } : {};

  let sessionId = auth?.session;
  let session: UiaSession | null = null;
  if (sessionId) {
    session = await ctx.kv.get<UiaSession>(sessionKey(sessionId), "json");
    if (!session || session.purpose !== ctx.purpose) {
      throw new MatrixError(400, "M_UNKNOWN", "Unknown or expired user-interactive auth session");
    }
  } else {
    sessionId = randomAlnum(24);
    session = { purpose: ctx.purpose, completed: [] };
  }
  const reply = (failure?: { errcode: string; error: string }) =>
    new UiaRequired({ flows, params, session: sessionId, completed: session.completed }, failure);

  if (auth?.type !== undefined) {
    const stage = auth.type as Stage;
    if (!ctx.flows.some((f) => f.includes(stage))) {
      throw reply({ errcode: "M_UNRECOGNIZED", error: `Unsupported auth stage ${auth.type}` });
    }
    const failure = await checkStage(ctx, stage, auth);
    if (failure) {
      await ctx.kv.put(sessionKey(sessionId), JSON.stringify(session), { expirationTtl: SESSION_TTL_SECONDS });
      throw reply(failure);
    }
    if (!session.completed.includes(stage)) session.completed.push(stage);
  }

  if (ctx.flows.some((f) => f.every((s) => session.completed.includes(s)))) {
    await ctx.kv.delete(sessionKey(sessionId));
    return;
  }
  await ctx.kv.put(sessionKey(sessionId), JSON.stringify(session), { expirationTtl: SESSION_TTL_SECONDS });
  throw reply();
}

async function checkStage(
  ctx: UiaContext,
  stage: Stage,
  auth: AuthDict,
): Promise<{ errcode: string; error: string } | null> {
  switch (stage) {
    case "m.login.dummy":
      return null;
    case "m.login.registration_token": {
      const token = auth["token"];
      const expected = ctx.config.REGISTRATION_TOKEN;
      const ok = typeof token === "string" && expected !== undefined && (await equalSecrets(token, expected));
      return ok ? null : { errcode: "M_FORBIDDEN", error: "Invalid registration token" };
    }
    case "m.login.password": {
      const userId = passwordStageUser(ctx, auth);
      const password = auth["password"];
      const user = userId !== undefined && userId === ctx.userId ? await getUser(ctx.db, userId) : null;
      const ok = typeof password === "string" && (await verifyPassword(password, user?.password_hash ?? null));
      return ok ? null : { errcode: "M_FORBIDDEN", error: "Invalid password" };
    }
  }
}

/** The user named by a password stage (identifier or the deprecated `user`), defaulting to the requester. */
function passwordStageUser(ctx: UiaContext, auth: AuthDict): string | undefined {
  const identifier = auth["identifier"] ?? (typeof auth["user"] === "string" ? { type: "m.id.user", user: auth["user"] } : undefined);
  if (identifier === undefined) return ctx.userId;
  return parseUserIdentifier(identifier, ctx.config.SERVER_NAME) ?? undefined;
}
