import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { AppService } from "matrix-appservice";

/**
 * A real `matrix-appservice` receiver (it checks the hs_token and emits each event of a transaction) behind a
 * small HTTP front that also records every transaction body by txnId, so tests can check the delivery contract,
 * and answers /_matrix/app/v1/ping, which matrix-appservice 3.0.0 does not implement.
 */
export class RecordingAppservice {
  readonly service: AppService;
  readonly events: Record<string, unknown>[] = [];
  readonly ephemeral: Record<string, unknown>[] = [];
  /** txnId -> every body received with it (more than one entry means a retry). */
  readonly transactions = new Map<string, string[]>();
  readonly pings: unknown[] = [];
  /** Transactions still to refuse with a 500 (after recording them), to exercise the homeserver's retries. */
  failTransactions = 0;
  private server: Server | null = null;

  constructor(
    private readonly port: number,
    private readonly hsToken: string,
  ) {
    this.service = new AppService({ homeserverToken: hsToken });
    this.service.on("event", (event) => this.events.push(event));
    this.service.on("ephemeral", (event) => this.ephemeral.push(event));
  }

  /**
   * Every transaction body, parsed, in arrival order (a retried one once): for what matrix-appservice 3.0.0 does
   * not surface, such as to-device messages (MSC2409) and device lists and key counts (MSC3202).
   */
  bodies(): Record<string, unknown>[] {
    return [...this.transactions.values()].map((bodies) => JSON.parse(bodies[0]!) as Record<string, unknown>);
  }

  start(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
  }

  /** Goes down hard: no new connections, open ones dropped. */
  stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "").split("?")[0]!;
    if (req.method === "POST" && path === "/_matrix/app/v1/ping") {
      this.readBody(req, (body) => {
        const authorized = req.headers.authorization === `Bearer ${this.hsToken}`;
        if (authorized) this.pings.push(JSON.parse(body));
        res.writeHead(authorized ? 200 : 403, { "content-type": "application/json" }).end(authorized ? "{}" : '{"errcode":"M_FORBIDDEN"}');
      });
      return;
    }
    if (req.method === "GET" && path.startsWith("/_matrix/app/v1/thirdparty/")) {
      const authorized = req.headers.authorization === `Bearer ${this.hsToken}`;
      const answer = authorized ? this.thirdParty(path.slice("/_matrix/app/v1/thirdparty/".length), new URL(req.url ?? "", "http://x").searchParams) : undefined;
      res.writeHead(answer === undefined ? 404 : 200, { "content-type": "application/json" }).end(JSON.stringify(answer ?? { errcode: "M_NOT_FOUND" }));
      return;
    }
    const txn = /^\/_matrix\/app\/v1\/transactions\/([^/]+)$/.exec(path);
    if (req.method === "PUT" && txn) {
      // Listens beside matrix-appservice's body parser, which attaches its own listener in this same tick.
      this.readBody(req, (body) => {
        const txnId = decodeURIComponent(txn[1]!);
        this.transactions.set(txnId, [...(this.transactions.get(txnId) ?? []), body]);
      });
      if (this.failTransactions > 0) {
        this.failTransactions--;
        req.on("end", () => res.writeHead(500, { "content-type": "application/json" }).end('{"errcode":"M_UNKNOWN"}'));
        return;
      }
    }
    this.service.expressApp(req, res);
  }

  /** A tiny "bridge" protocol with one network, answering the Application Service API's third-party lookups. */
  private thirdParty(path: string, query: URLSearchParams): unknown {
    if (path === "protocol/bridge") {
      return {
        user_fields: ["handle"],
        location_fields: ["channel"],
        icon: "mxc://example.org/icon",
        field_types: { handle: { regexp: ".+", placeholder: "alice" }, channel: { regexp: ".+", placeholder: "general" } },
        instances: [{ network_id: "net1", desc: "Network one", fields: {} }],
      };
    }
    if (path === "user/bridge") return [{ userid: `@_bridge_${query.get("handle")}:localhost`, protocol: "bridge", fields: { handle: query.get("handle") } }];
    if (path === "user" && query.get("userid")) return [{ userid: query.get("userid"), protocol: "bridge", fields: { handle: "someone" } }];
    return undefined;
  }

  private readBody(req: IncomingMessage, done: (body: string) => void): void {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => done(Buffer.concat(chunks).toString("utf8")));
  }
}
