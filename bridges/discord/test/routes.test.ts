import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { discordBridgeRoutes } from "../routes";

/** The Worker's env with the bridge switched on (the DOs keep the Worker's own env, where it is off). */
const enabled = {
  ...env,
  DISCORD_BRIDGE_ENABLED: "true",
  DISCORD_BRIDGE_OWNER: "@me:localhost:8787",
  DISCORD_API_BASE_URL: "http://127.0.0.1:9/api/v10",
  DISCORD_BOT_TOKEN: "bot-token",
  DISCORD_AS_TOKEN: "as-token",
  DISCORD_HS_TOKEN: "hs-token",
};

async function put(body: unknown, opts: { token?: string; targetEnv?: Env } = {}) {
  const ctx = createExecutionContext();
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.token !== undefined) headers["authorization"] = `Bearer ${opts.token}`;
  const res = await discordBridgeRoutes.request(
    "/_matrix/app/v1/transactions/1",
    { method: "PUT", headers, body: typeof body === "string" ? body : JSON.stringify(body) },
    opts.targetEnv ?? enabled,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json() };
}

const message = (sender: string) => ({
  type: "m.room.message",
  event_id: `$${sender}`,
  room_id: "!not-a-portal:localhost:8787",
  sender,
  origin_server_ts: 1,
  content: { msgtype: "m.text", body: "hello" },
});

describe("the bridge's transaction endpoint (Application Service API)", () => {
  it("is not there while the bridge is off", async () => {
    expect((await put({ events: [] }, { token: "hs-token", targetEnv: env })).status).toBe(404);
  });

  it("wants the hs_token: 401 without, 403 with another", async () => {
    expect(await put({ events: [] })).toEqual({ status: 401, body: { errcode: "M_UNAUTHORIZED", error: "Missing hs_token" } });
    expect((await put({ events: [] }, { token: "as-token" })).status).toBe(403);
  });

  it("rejects a body that is not a transaction", async () => {
    expect((await put("{nope", { token: "hs-token" })).status).toBe(400);
    expect((await put({ events: "x" }, { token: "hs-token" })).body).toMatchObject({ errcode: "M_BAD_JSON" });
  });

  it("accepts events it does not act on (other types, strangers, rooms that are no portal) without failing the transaction", async () => {
    const events = [{ type: "m.room.topic", event_id: "$t" }, message("@stranger:localhost:8787"), message("@me:localhost:8787"), 42];
    expect(await put({ events }, { token: "hs-token" })).toEqual({ status: 200, body: {} });
  });

  it("accepts ephemeral typing and receipts (MSC2409) for rooms that are no portal", async () => {
    const ephemeral = [
      { type: "m.typing", room_id: "!not-a-portal:localhost:8787", content: { user_ids: ["@me:localhost:8787"] } },
      { type: "m.receipt", room_id: "!not-a-portal:localhost:8787", content: { $e: { "m.read": { "@me:localhost:8787": { ts: 1 } } } } },
    ];
    expect(await put({ events: [], ephemeral }, { token: "hs-token" })).toEqual({ status: 200, body: {} });
    expect((await put({ events: [], ephemeral: "x" }, { token: "hs-token" })).status).toBe(400);
  });
});
