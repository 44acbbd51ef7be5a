import { type ClientMetadata, isRegisteredRedirect, localizedName } from "./client-metadata";
import type { OAuthErrorCode } from "./errors";
import { isS256Challenge } from "./pkce";
import { type GrantedScope, parseScope } from "./scope";
import { OAuthError } from "./errors";
import type { ClientView } from "./pages";

/** A validated authorization request (RFC 6749 4.1.1 with PKCE, the Matrix scopes and `prompt=create`). */
export interface AuthorizationRequest {
  clientId: string;
  client: ClientMetadata;
  redirectUri: string;
  responseMode: "query" | "fragment";
  state: string | undefined;
  grant: GrantedScope;
  codeChallenge: string;
  prompt: "create" | undefined;
  /** The request's parameters as received, carried through the login and consent forms and checked again there. */
  query: string;
}

/**
 * What to do with a request: show it, send the browser back to the client with an error, or (when the client or
 * its redirect URI cannot be trusted) show an error page and never redirect, as RFC 6749 4.1.2.1 requires.
 */
export type ParsedRequest =
  | { kind: "ok"; request: AuthorizationRequest }
  | { kind: "redirect"; location: string }
  | { kind: "fatal"; message: string };

const MAX_QUERY = 8192;

/** Builds the callback URL with the response in the query or the fragment (OAuth 2.0 Multiple Response Types). */
export function callbackUrl(redirectUri: string, mode: "query" | "fragment", params: Record<string, string | undefined>): string {
  const values = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
  if (mode === "fragment") return `${redirectUri}#${new URLSearchParams(values).toString()}`;
  const url = new URL(redirectUri);
  for (const [k, v] of values) url.searchParams.append(k, v);
  return url.toString();
}

export async function parseAuthorizationRequest(
  query: string,
  loadClient: (clientId: string) => Promise<ClientMetadata | null>,
): Promise<ParsedRequest> {
  if (query.length > MAX_QUERY) return { kind: "fatal", message: "The authorization request is too long." };
  const params = new URLSearchParams(query);
  const one = (name: string): string | undefined | null => {
    const all = params.getAll(name);
    return all.length > 1 ? null : all[0];
  };
  const clientId = one("client_id");
  if (!clientId) return { kind: "fatal", message: "The app did not say who it is (client_id is missing or repeated)." };
  const client = clientId.length <= 64 ? await loadClient(clientId) : null;
  if (!client) return { kind: "fatal", message: "This app is not registered with this server (unknown client_id)." };
  const redirectUri = one("redirect_uri");
  if (!redirectUri || !isRegisteredRedirect(client, redirectUri)) {
    return { kind: "fatal", message: "The app asked to return to an address it did not register (redirect_uri). For your safety you are not sent there." };
  }
  const state = one("state") ?? undefined;
  const modeParam = one("response_mode");
  const responseMode = modeParam === "fragment" ? "fragment" : "query";
  const fail = (error: OAuthErrorCode, description: string): ParsedRequest => ({
    kind: "redirect",
    location: callbackUrl(redirectUri, responseMode, { error, error_description: description, state }),
  });
  if (modeParam !== undefined && modeParam !== "query" && modeParam !== "fragment") {
    return fail("invalid_request", "response_mode must be query or fragment");
  }
  for (const name of ["response_type", "scope", "code_challenge", "code_challenge_method", "prompt", "state"]) {
    if (one(name) === null) return fail("invalid_request", `Parameter ${name} was given more than once`);
  }
  const responseType = one("response_type");
  if (!responseType) return fail("invalid_request", "response_type is required");
  if (responseType !== "code") return fail("unsupported_response_type", "Only response_type=code is supported");
  if (!client.response_types.includes("code") || !client.grant_types.includes("authorization_code")) {
    return fail("unauthorized_client", "The client did not register for the authorization code grant");
  }
  const challenge = one("code_challenge");
  if (!challenge) return fail("invalid_request", "PKCE is required: code_challenge is missing");
  if (one("code_challenge_method") !== "S256") return fail("invalid_request", "code_challenge_method must be S256");
  if (!isS256Challenge(challenge)) return fail("invalid_request", "code_challenge is not an S256 challenge");
  let grant: GrantedScope;
  try {
    grant = parseScope(one("scope") ?? undefined);
  } catch (err) {
    if (err instanceof OAuthError) return fail("invalid_scope", err.message);
    throw err;
  }
  // Only `create` is advertised; other prompt values are hints this server does not act on.
  const prompt = one("prompt") === "create" ? "create" : undefined;
  return {
    kind: "ok",
    request: { clientId, client, redirectUri, responseMode, state, grant, codeChallenge: challenge, prompt, query: params.toString() },
  };
}

export function clientView(client: ClientMetadata, acceptLanguage: string | undefined): ClientView {
  return {
    name: localizedName(client, acceptLanguage) ?? new URL(client.client_uri).hostname,
    uri: client.client_uri,
    tosUri: client.tos_uri,
    policyUri: client.policy_uri,
  };
}
