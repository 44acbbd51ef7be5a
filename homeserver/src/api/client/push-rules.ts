import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import { requireAuth } from "../../http/auth";
import type { AppEnv } from "../../http/types";
import { parseBody, parseQuery } from "../../http/validate";
import { ClientAction, PushRuleBody, deleteRule, findRule, parseKind, putRule, ruleForClient, rulesetForClient, updateRule } from "../../push/ruleset";
import type { RuleKind } from "../../push/types";
import { changePushRules, getPushRules } from "../../services/push-rules";

const Position = z.object({ before: z.string().optional(), after: z.string().optional() });
const EnabledBody = z.object({ enabled: z.boolean() });
const ActionsBody = z.object({ actions: z.array(ClientAction) });

function ruleOf(c: Context<AppEnv>): { kind: RuleKind; ruleId: string } {
  return { kind: parseKind(c.req.param("kind") ?? ""), ruleId: c.req.param("ruleId") ?? "" };
}

/** Push rules (Client-Server API, "Push Rules: API"): only the `global` scope exists. */
export const pushRules = new Hono<AppEnv>()
  .use("/v3/pushrules/*", requireAuth)
  .use("/v3/pushrules", requireAuth)
  /** GET /_matrix/client/v3/pushrules/ (a trailing slash is matched too: the app is not strict) */
  .get("/v3/pushrules", async (c) => c.json({ global: rulesetForClient(await getPushRules(c.env.DB, c.var.requester.userId)) }))
  /** GET /_matrix/client/v3/pushrules/global/ */
  .get("/v3/pushrules/global", async (c) => c.json(rulesetForClient(await getPushRules(c.env.DB, c.var.requester.userId))))
  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  .get("/v3/pushrules/global/:kind/:ruleId", async (c) => {
    const { kind, ruleId } = ruleOf(c);
    return c.json(ruleForClient(kind, findRule(await getPushRules(c.env.DB, c.var.requester.userId), kind, ruleId)));
  })
  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  .put("/v3/pushrules/global/:kind/:ruleId", async (c) => {
    const { kind, ruleId } = ruleOf(c);
    const position = parseQuery(c, Position);
    const body = await parseBody(c, PushRuleBody);
    await changePushRules(c.env, c.executionCtx, c.var.requester.userId, (rules) => putRule(rules, kind, ruleId, body, position));
    return c.json({});
  })
  /** DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId} */
  .delete("/v3/pushrules/global/:kind/:ruleId", async (c) => {
    const { kind, ruleId } = ruleOf(c);
    await changePushRules(c.env, c.executionCtx, c.var.requester.userId, (rules) => deleteRule(rules, kind, ruleId));
    return c.json({});
  })
  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled */
  .get("/v3/pushrules/global/:kind/:ruleId/enabled", async (c) => {
    const { kind, ruleId } = ruleOf(c);
    return c.json({ enabled: findRule(await getPushRules(c.env.DB, c.var.requester.userId), kind, ruleId).enabled });
  })
  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled */
  .put("/v3/pushrules/global/:kind/:ruleId/enabled", async (c) => {
    const { kind, ruleId } = ruleOf(c);
    const { enabled } = await parseBody(c, EnabledBody);
    await changePushRules(c.env, c.executionCtx, c.var.requester.userId, (rules) => updateRule(rules, kind, ruleId, { enabled }));
    return c.json({});
  })
  /** GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions */
  .get("/v3/pushrules/global/:kind/:ruleId/actions", async (c) => {
    const { kind, ruleId } = ruleOf(c);
    return c.json({ actions: findRule(await getPushRules(c.env.DB, c.var.requester.userId), kind, ruleId).actions });
  })
  /** PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions */
  .put("/v3/pushrules/global/:kind/:ruleId/actions", async (c) => {
    const { kind, ruleId } = ruleOf(c);
    const { actions } = await parseBody(c, ActionsBody);
    await changePushRules(c.env, c.executionCtx, c.var.requester.userId, (rules) => updateRule(rules, kind, ruleId, { actions }));
    return c.json({});
  });
