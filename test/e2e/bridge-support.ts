import type { MatrixEvent, Room } from "matrix-js-sdk";

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

/** The `network` bridge's registration (`@_<network>_.*` users, tokens from `<NETWORK>_AS_TOKEN` / `_HS_TOKEN`). */
export function bridgeRegistration(network: string, port: number, extra: Record<string, unknown>): string {
  const upper = network.toUpperCase();
  return JSON.stringify([
    {
      id: network,
      url: `http://127.0.0.1:${port}/_bridges/${network}`,
      as_token: `\${${upper}_AS_TOKEN}`,
      hs_token: `\${${upper}_HS_TOKEN}`,
      sender_localpart: `_${network}_bot`,
      rate_limited: false,
      ...extra,
      namespaces: { users: [{ exclusive: true, regex: `@_${network}_.*:localhost` }] },
    },
  ]);
}

export const ofType = (room: Room, type: string): MatrixEvent[] => room.getLiveTimeline().getEvents().filter((e) => e.getType() === type);
export const messages = (room: Room): MatrixEvent[] => ofType(room, "m.room.message");
export const relation = (e: MatrixEvent): Record<string, unknown> => (e.getWireContent()["m.relates_to"] as Record<string, unknown> | undefined) ?? {};
