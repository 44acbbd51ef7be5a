import { inject } from "vitest";
import { ClientEvent, type MatrixClient, SyncState, createClient } from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { specAvailable, specUnavailableReason, validateResponse } from "../support/openapi";

// The SDK logs every request at debug level; keep test output readable. (It is a loglevel logger underneath.)
(logger as unknown as { setLevel(level: string): void }).setLevel("warn");

export const baseUrl = (): string => inject("baseUrl");

let counter = 0;
export function uniqueName(prefix = "user"): string {
  return `${prefix}${Date.now().toString(36)}${(counter++).toString(36)}`;
}

/** A matrix-js-sdk client pointed at the Worker, not logged in. */
export function anonymousClient(): MatrixClient {
  return createClient({ baseUrl: baseUrl() });
}

/** Registers a user through matrix-js-sdk's own request, returning a logged-in client. */
export async function registeredClient(prefix = "user", password = "e2e password"): Promise<{ client: MatrixClient; password: string; username: string }> {
  const anon = anonymousClient();
  const username = uniqueName(prefix);
  const res = await anon.registerRequest({ username, password, auth: { type: "m.login.dummy" } });
  const client = createClient({ baseUrl: baseUrl(), accessToken: res.access_token, userId: res.user_id, deviceId: res.device_id });
  return { client, password, username };
}

/** Raw fetch against the Worker, for exact status and body checks. */
export async function raw(method: string, path: string, opts: { token?: string; body?: unknown; rawBody?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers["authorization"] = `Bearer ${opts.token}`;
  const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${baseUrl()}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown>, headers: res.headers };
}

let skipNoted = false;
/**
 * Like `raw`, and also validates the response against the Matrix OpenAPI definitions when MATRIX_SPEC_DIR
 * points at the spec (CI sets it); says once, plainly, when it cannot.
 */
export async function api(method: string, path: string, opts: { token?: string; body?: unknown; rawBody?: string } = {}) {
  const res = await raw(method, path, opts);
  if (specAvailable()) validateResponse(method, path, res.status, res.body);
  else if (!skipNoted) {
    skipNoted = true;
    console.log(`OpenAPI validation skipped: ${specUnavailableReason}`);
  }
  return res;
}

/** Starts the SDK's sync loop and resolves once its first sync has been processed (PREPARED); rejects on a sync error. */
export async function syncUntilPrepared(client: MatrixClient, initialSyncLimit = 10): Promise<void> {
  const prepared = new Promise<void>((resolve, reject) => {
    const onSync = (state: SyncState) => {
      if (state === SyncState.Prepared) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error) {
        client.off(ClientEvent.Sync, onSync);
        reject(new Error("sync failed before PREPARED"));
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
  await client.startClient({ initialSyncLimit });
  await prepared;
}
