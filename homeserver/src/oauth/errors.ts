import type { ContentfulStatusCode } from "hono/utils/http-status";

/** The error codes of RFC 6749 (5.2, 4.1.2.1), RFC 7591 (3.2.2) and RFC 7009 that this server answers. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "access_denied"
  | "unsupported_token_type"
  | "invalid_redirect_uri"
  | "invalid_client_metadata";

/** An OAuth 2.0 error: answered as `{error, error_description}` by the OAuth endpoints (never a Matrix errcode). */
export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    description: string,
    readonly status: ContentfulStatusCode = error === "invalid_client" ? 401 : 400,
  ) {
    super(description);
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.message };
  }
}
