import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type MatrixClient, type MatrixEvent, type Room, createClient } from "matrix-js-sdk";
import { syncUntilPrepared } from "./client";
import { freePort } from "./global-setup";
// @ts-expect-error: plain ESM helper shared with `npm start` and the benchmark
import { applyMigrations, bridgeWorkerVars, startWorker, stopWorker } from "../../scripts/worker.mjs";

/**
 * What the bridges' end-to-end tests share: waiting on a probe (a timeout shows the bridge Worker's output), the
 * bridge's appservice registration (its url the Worker itself), and reading the person's room timeline.
 */
export function waiters(workerOutput: () => string) {
  const timedOut = (what: string) => new Error(`timed out waiting for ${what}\n--- worker output ---\n${workerOutput().slice(-4000)}`);
  return {
    async waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 30_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = probe();
        if (value) return value;
        if (Date.now() > deadline) throw timedOut(what);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    /** waitFor with an asynchronous probe (e.g. a request to the Worker). */
    async waitForAsync(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!(await probe())) {
        if (Date.now() > deadline) throw timedOut(what);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

export const ofType = (room: Room, type: string): MatrixEvent[] => room.getLiveTimeline().getEvents().filter((e) => e.getType() === type);
export const messages = (room: Room): MatrixEvent[] => ofType(room, "m.room.message");
export const relation = (e: MatrixEvent): Record<string, unknown> => (e.getWireContent()["m.relates_to"] as Record<string, unknown> | undefined) ?? {};

/** One bridge's own Worker (fresh state) and the person it bridges for, signed in as a matrix-js-sdk client. */
export interface BridgeWorld {
  worker: { child: unknown; baseUrl: string; output(): string };
  persistTo: string;
  person: MatrixClient;
  accessToken: string;
}

/**
 * Starts a Worker with the `network` bridge enabled for `@<ownerLocalpart>:localhost` (its registration with
 * `registrationExtra`, its as/hs tokens, and the bridge's own `vars`), registers the person and syncs them once.
 */
export async function startBridgeWorld(
  network: string,
  opts: { ownerLocalpart: string; asToken: string; hsToken: string; registrationExtra: Record<string, unknown>; vars: Record<string, string> },
): Promise<BridgeWorld> {
  const persistTo = mkdtempSync(path.join(tmpdir(), `matrix-${network}-e2e-`));
  applyMigrations(persistTo);
  const port = await freePort();
  const bridge = bridgeWorkerVars(network, port, { owner: `@${opts.ownerLocalpart}:localhost`, asToken: opts.asToken, hsToken: opts.hsToken, registration: opts.registrationExtra });
  const worker = (await startWorker({
    port,
    inspectorPort: await freePort(),
    persistTo,
    vars: { ...bridge, APPSERVICE_RETRY_MAX_MS: "1000", ...opts.vars },
  })) as BridgeWorld["worker"];
  const res = await fetch(`${worker.baseUrl}/_matrix/client/v3/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: opts.ownerLocalpart, password: `${network} e2e password`, auth: { type: "m.login.dummy" } }),
  });
  const session = (await res.json()) as { access_token: string; user_id: string; device_id: string };
  const person = createClient({ baseUrl: worker.baseUrl, accessToken: session.access_token, userId: session.user_id, deviceId: session.device_id });
  await syncUntilPrepared(person, 20);
  return { worker, persistTo, person, accessToken: session.access_token };
}

export function stopBridgeWorld(world: BridgeWorld | undefined): void {
  if (!world) return;
  world.person.stopClient();
  stopWorker(world.worker.child);
  rmSync(world.persistTo, { recursive: true, force: true });
}

/** Says `text` in a management room as the person; resolves with the bot's answer (its first message after it). */
export async function askBot(
  person: MatrixClient,
  roomId: string,
  bot: string,
  text: string,
  waitFor: ReturnType<typeof waiters>["waitFor"],
): Promise<string> {
  const { event_id: eventId } = await person.sendTextMessage(roomId, text);
  const room = person.getRoom(roomId)!;
  const reply = await waitFor(`the answer to ${text.split(" ")[0]}`, () => {
    const all = messages(room);
    const at = all.findIndex((e) => e.getId() === eventId);
    return at !== -1 && all.slice(at + 1).find((e) => e.getSender() === bot);
  });
  return String(reply.getContent()["body"]);
}
