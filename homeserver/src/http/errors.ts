import type { ContentfulStatusCode } from "hono/utils/http-status";

/** A Matrix error: thrown anywhere, answered as `{errcode, error}` by the app's onError. */
export class MatrixError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly errcode: string,
    message: string,
    /** Extra top-level fields the spec defines for some errors (retry_after_ms, soft_logout, ...). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

export const forbidden = (msg: string) => new MatrixError(403, "M_FORBIDDEN", msg);
export const notFound = (msg: string) => new MatrixError(404, "M_NOT_FOUND", msg);
export const badJson = (msg: string) => new MatrixError(400, "M_BAD_JSON", msg);
export const invalidParam = (msg: string) => new MatrixError(400, "M_INVALID_PARAM", msg);
export const missingParam = (msg: string) => new MatrixError(400, "M_MISSING_PARAM", msg);
export const unrecognized = (status: 404 | 405 | 400, msg: string) =>
  new MatrixError(status, "M_UNRECOGNIZED", msg);
export const unknownToken = (msg: string, softLogout = false) =>
  new MatrixError(401, "M_UNKNOWN_TOKEN", msg, { soft_logout: softLogout });
export const limitExceeded = (retryAfterMs: number) =>
  new MatrixError(429, "M_LIMIT_EXCEEDED", "Too many requests", { retry_after_ms: retryAfterMs });
