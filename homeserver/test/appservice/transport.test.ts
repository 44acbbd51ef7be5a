import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, expectError, uniqueName } from "../helpers";

describe("requests to an appservice on the Worker's own origin", () => {
  it("pings through the Worker's own fetch handler, not the network", async () => {
    const id = uniqueName("own").toLowerCase();
    const registration = { id, url: "http://localhost:8787/_bridges/none", as_token: `as-${id}`, hs_token: `hs-${id}`, sender_localpart: `${id}bot` };
    const res = await call("POST", `/_matrix/client/v1/appservice/${id}/ping`, {
      token: registration.as_token,
      body: {},
      env: { APPSERVICES: JSON.stringify([registration]) },
    });
    // The Worker itself answered (it has no such route): a status, not a failed connection.
    expectError(res, 502, "M_BAD_STATUS");
    expect(res.body["status"]).toBe(404);
    expect(JSON.parse(res.body["body"] as string)).toMatchObject({ errcode: "M_UNRECOGNIZED" });
  });

  it("delivers transactions the same way", async () => {
    const queue = env.APPSERVICE_QUEUES.get(env.APPSERVICE_QUEUES.idFromName(uniqueName("own")));
    await queue.enqueue({ url: "http://localhost:8787/_bridges/none", hsToken: "hs-own" }, [{ kind: "event", data: { event_id: "$own" } }]);
    for (let i = 0; i < 100 && (await queue.status()).lastFailure === null; i++) await runDurableObjectAlarm(queue);
    // The Worker answered (404: no bridge there), where the network would have failed to connect.
    expect((await queue.status()).lastFailure).toBe("answered 404 (internal)");
  });
});
