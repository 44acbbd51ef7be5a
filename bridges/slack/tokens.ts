import { z } from "zod";
import { openToken, sealToken } from "../core/secrets";
import type { MetaTable } from "../../homeserver/src/util/durable-sqlite";
import { type SlackConfig, loadSlackConfig } from "./config";
import { SlackWebApi } from "./web-api";

/**
 * The bridge object's token store (its SQLite): each workspace's tokens, from an OAuth install (sealed with
 * BRIDGE_SECRET_KEY, `core/secrets.ts`) or else the configured secrets (their workspace found with auth.test); the
 * install flow's one-time states.
 */

/** How long a `login` link works. */
const OAUTH_STATE_TTL_MS = 15 * 60 * 1000;

export const TOKEN_TABLES = `
  CREATE TABLE IF NOT EXISTS installs (
    team_id TEXT PRIMARY KEY, team_name TEXT NOT NULL, bot_token TEXT NOT NULL, user_token TEXT,
    bot_user_id TEXT, user_id TEXT, installed_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS oauth_states (state TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
`;

/** A workspace's tokens: the bot's, and the person's user token when there is one. */
export interface SlackTokens {
  bot: string;
  user?: string;
}

/** What oauth.v2.access gave for one workspace. */
export interface SlackInstall {
  teamId: string;
  teamName: string;
  botToken: string;
  userToken?: string;
  botUserId?: string;
  userId?: string;
}

/** Who the bot token is (auth.test), stored with a fingerprint of the token it was asked with. */
const SlackBotIdentity = z.object({ teamId: z.string(), userId: z.string(), botId: z.string().nullable() });
export type SlackBotIdentity = z.infer<typeof SlackBotIdentity>;

/** A SHA-256 of a token: enough to notice it changed, without storing it. */
export async function tokenFingerprint(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class SlackTokenStore {
  private readonly sql: SqlStorage;
  /** Installed tokens, opened, by workspace (with the sealed values they came from). */
  private readonly opened = new Map<string, { sealed: string; tokens: SlackTokens }>();

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly store: MetaTable,
    private readonly env: Env,
    /** The configured bot token was refused (by auth.test). */
    private readonly onConfiguredAuthError: (error: string) => Promise<void>,
  ) {
    this.sql = storage.sql;
  }

  /**
   * A workspace's tokens: its OAuth install's, else the configured ones when they are that workspace's (auth.test
   * says which, remembered per token). Null: the bridge cannot act in that workspace.
   */
  async tokensFor(team: string): Promise<SlackTokens | null> {
    const row = this.sql.exec<{ bot_token: string; user_token: string | null }>("SELECT bot_token, user_token FROM installs WHERE team_id = ?", team).toArray()[0];
    if (row) {
      // Opened once per sealed value while this object lives (every event needs them).
      const opened = this.opened.get(team);
      if (opened?.sealed === row.bot_token + (row.user_token ?? "")) return opened.tokens;
      const bot = await openToken(this.env, row.bot_token);
      const tokens = row.user_token === null ? { bot } : { bot, user: await openToken(this.env, row.user_token) };
      this.opened.set(team, { sealed: row.bot_token + (row.user_token ?? ""), tokens });
      return tokens;
    }
    const config = loadSlackConfig(this.env);
    if (config?.botToken === undefined) return null;
    if ((await this.botIdentity(config, config.botToken)).teamId !== team) return null;
    return config.userToken === undefined ? { bot: config.botToken } : { bot: config.botToken, user: config.userToken };
  }

  /** The bridge's own bot user in a workspace (its install's, or the configured token's), when known. */
  async botUserId(team: string): Promise<string | null> {
    const row = this.sql.exec<{ bot_user_id: string | null }>("SELECT bot_user_id FROM installs WHERE team_id = ?", team).toArray()[0];
    if (row) return row.bot_user_id;
    const config = loadSlackConfig(this.env);
    if (config?.botToken === undefined) return null;
    const me = await this.botIdentity(config, config.botToken);
    return me.teamId === team ? me.userId : null;
  }

  /** Who the configured bot token is (auth.test), remembered with the token's fingerprint. */
  async botIdentity(config: SlackConfig, token: string): Promise<SlackBotIdentity> {
    const fingerprint = await tokenFingerprint(token);
    const known = this.store.get("bot_token_fingerprint") === fingerprint ? this.storedBotIdentity() : null;
    if (known !== null) return known;
    const api = new SlackWebApi({ baseUrl: config.apiBaseUrl, token, onAuthError: this.onConfiguredAuthError });
    const me = await api.authTest();
    const bot = { teamId: me.team_id, userId: me.user_id, botId: me.bot_id ?? null };
    this.storage.transactionSync(() => {
      this.store.set("bot_token_fingerprint", fingerprint);
      this.store.set("bot_identity", JSON.stringify(bot));
    });
    return bot;
  }

  storedBotIdentity(): SlackBotIdentity | null {
    const raw = this.store.get("bot_identity");
    return raw === null ? null : SlackBotIdentity.parse(JSON.parse(raw));
  }

  /** A one-time `state` for the OAuth install flow, handed out by `login` in the management room. */
  issueOAuthState(nowMs: number): string {
    const state = [...crypto.getRandomValues(new Uint8Array(24))].map((b) => b.toString(16).padStart(2, "0")).join("");
    this.sql.exec("DELETE FROM oauth_states WHERE expires_at < ?", nowMs);
    this.sql.exec("INSERT INTO oauth_states (state, expires_at) VALUES (?, ?)", state, nowMs + OAUTH_STATE_TTL_MS);
    return state;
  }

  /** Whether `state` was handed out and is still good; `consume`: it is used up (the callback). */
  checkOAuthState(state: string, consume: boolean, nowMs: number): boolean {
    const valid = this.sql.exec("SELECT 1 FROM oauth_states WHERE state = ? AND expires_at >= ?", state, nowMs).toArray().length > 0;
    if (valid && consume) this.sql.exec("DELETE FROM oauth_states WHERE state = ?", state);
    return valid;
  }

  /** An OAuth install: the workspace's tokens, sealed (BRIDGE_SECRET_KEY), replacing any earlier install's. */
  async install(install: SlackInstall): Promise<void> {
    const bot = await sealToken(this.env, install.botToken);
    const user = install.userToken === undefined ? null : await sealToken(this.env, install.userToken);
    this.sql.exec(
      `INSERT INTO installs (team_id, team_name, bot_token, user_token, bot_user_id, user_id, installed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (team_id) DO UPDATE SET team_name = excluded.team_name, bot_token = excluded.bot_token, user_token = excluded.user_token,
         bot_user_id = excluded.bot_user_id, user_id = excluded.user_id, installed_at = excluded.installed_at`,
      install.teamId,
      install.teamName,
      bot,
      user,
      install.botUserId ?? null,
      install.userId ?? null,
      Date.now(),
    );
  }

  /** Forgets a workspace's install (its tokens); true when there was one. */
  uninstall(team: string): boolean {
    return this.sql.exec("DELETE FROM installs WHERE team_id = ?", team).rowsWritten > 0;
  }

  installs(): { teamId: string; teamName: string }[] {
    return this.sql.exec<{ team_id: string; team_name: string }>("SELECT team_id, team_name FROM installs ORDER BY team_id").toArray().map((r) => ({ teamId: r.team_id, teamName: r.team_name }));
  }

  /** The workspace's sealed bot token (an install's identity), or undefined for the configured one. */
  sealedBotToken(team: string): string | undefined {
    return this.sql.exec<{ bot_token: string }>("SELECT bot_token FROM installs WHERE team_id = ?", team).toArray()[0]?.bot_token;
  }

  /** The workspaces there are tokens for: installed ones, and the configured token's. */
  async teams(): Promise<string[]> {
    const config = loadSlackConfig(this.env);
    const teams = this.installs().map((i) => i.teamId);
    if (config?.botToken !== undefined) teams.push((await this.botIdentity(config, config.botToken)).teamId);
    return [...new Set(teams)];
  }
}
