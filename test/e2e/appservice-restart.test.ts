import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// @ts-expect-error: plain ESM helper shared with `npm start` and the benchmark
import { applyMigrations, startWorker, stopWorker } from "../../scripts/worker.mjs";
import { RecordingAppservice } from "./fake-appservice";
import { freePort } from "./global-setup";

/**
 * A Worker of its own (own state directory and ports), so it can be stopped and started again with the
 * appservice's queue holding undelivered events.
 */
interface Started {
  child: { exitCode: number | null; once(event: "exit", cb: () => void): void };
  baseUrl: string;
}

const persistTo = mkdtempSync(path.join(tmpdir(), "matrix-e2e-as-restart-"));
const hsToken = "restart-hs-token";
const asToken = "restart-as-token";
let worker: Started | null = null;
let appservice: RecordingAppservice | null = null;

afterAll(async () => {
  if (worker) await stop(worker);
  await appservice?.stop();
  rmSync(persistTo, { recursive: true, force: true });
});

async function start(port: number, inspectorPort: number, asPort: number): Promise<Started> {
  const registration = {
    id: "restart-bridge",
    url: `http://127.0.0.1:${asPort}`,
    as_token: asToken,
    hs_token: hsToken,
    sender_localpart: "_restart_bot",
    namespaces: { users: [{ exclusive: true, regex: "@_restart_.*:localhost" }] },
  };
  return (await startWorker({
    port,
    inspectorPort,
    persistTo,
    vars: { RATE_LIMIT_ENABLED: "false", SERVER_NAME: "localhost", APPSERVICES: JSON.stringify([registration]), APPSERVICE_RETRY_MAX_MS: "1000" },
  })) as Started;
}

function stop(started: Started): Promise<void> {
  return new Promise((resolve) => {
    if (started.child.exitCode !== null) return resolve();
    started.child.once("exit", () => resolve());
    stopWorker(started.child);
  });
}

async function api(base: string, method: string, url: string, token: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}/_matrix/client${url}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

describe("application service queue across a restart", () => {
  it("delivers events queued before the Worker restarted, in order", { timeout: 180_000 }, async () => {
    const [port, inspectorPort, asPort] = [await freePort(), await freePort(), await freePort()];
    applyMigrations(persistTo);
    worker = await start(port, inspectorPort, asPort);
    const base = worker.baseUrl;

    const alice = await fetch(`${base}/_matrix/client/v3/register`, {
      method: "POST",
      body: JSON.stringify({ username: "alice", password: "a long password", auth: { type: "m.login.dummy" } }),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    await api(base, "POST", "/v3/register", asToken, { type: "m.login.application_service", username: "_restart_ghost", inhibit_login: true });
    const ghost = "@_restart_ghost:localhost";
    const { room_id: roomId } = (await api(base, "POST", "/v3/createRoom", alice.access_token, { invite: [ghost] })) as { room_id: string };
    await api(base, "POST", `/v3/join/${encodeURIComponent(roomId)}?user_id=${encodeURIComponent(ghost)}`, asToken, {});

    // The appservice is down: everything stays queued.
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await api(base, "PUT", `/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/r${i}`, alice.access_token, { msgtype: "m.text", body: `r${i}` });
      sent.push(res["event_id"] as string);
    }
    await stop(worker);
    worker = null;

    appservice = new RecordingAppservice(asPort, hsToken);
    await appservice.start();
    worker = await start(port, inspectorPort, asPort);
    const wanted = new Set(sent);
    const deadline = Date.now() + 60_000;
    while (appservice.events.filter((e) => wanted.has(e["event_id"] as string)).length < sent.length) {
      if (Date.now() > deadline) throw new Error(`only ${appservice.events.filter((e) => wanted.has(e["event_id"] as string)).length} of ${sent.length} arrived`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(appservice.events.map((e) => e["event_id"] as string).filter((id) => wanted.has(id))).toEqual(sent);
  });
});
