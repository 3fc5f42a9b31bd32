/** Typed errors, one per protocol code (PROTOCOL §3), plus the handshake's refusals. */

export type ErrorCode =
  | "invalid_payload"
  | "forbidden"
  | "not_found"
  | "rate_limited"
  | "unavailable"
  | "internal";

export type AuthErrorCode = "auth_missing" | "auth_invalid" | "auth_expired";

/** An error the server answered with (or its stand-in); `code` is the protocol code. */
export class ParleyError extends Error {
  override name = "ParleyError";
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message?: string, options: { retryAfterMs?: number } = {}) {
    super(message || code);
    this.code = code;
    this.retryable = !NOT_RETRYABLE.has(code);
    this.retryAfterMs = options.retryAfterMs;
  }
}

const NOT_RETRYABLE = new Set(["invalid_payload", "forbidden", "not_found"]);

/** The server refused the token; the client keeps trying, asking the token provider each time. */
export class AuthError extends ParleyError {
  override name = "AuthError";
  declare readonly code: AuthErrorCode;
}

/** The link dropped before the answer came (never shown as a message error: sends wait instead). */
export class NotConnected extends Error {
  override name = "NotConnected";
}

/** An HTTP API call failed; `status` is the HTTP status (0 when the request did not get through). */
export class HttpError extends ParleyError {
  override name = "HttpError";
  readonly status: number;

  constructor(status: number, code: string, message?: string, options: { retryAfterMs?: number } = {}) {
    super(code, message, options);
    this.status = status;
  }
}

/**
 * An HTTP 401 as the socket would have refused it: its code is the prefix the server puts on
 * the message (`auth_expired: ...`), `auth_missing` without a token, else `auth_invalid`.
 */
export function authErrorFromHttp(error: HttpError): AuthError | null {
  if (error.status !== 401) return null;
  const prefix = /^(auth_missing|auth_invalid|auth_expired)\b:?\s*/.exec(error.message);
  if (prefix !== null) return new AuthError(prefix[1] as string, error.message.slice(prefix[0].length) || undefined);
  return new AuthError(/missing/.test(error.message) ? "auth_missing" : "auth_invalid", error.message);
}

/** The typed error of an `{"ok": false, "error": {...}}` ack (or of a malformed answer). */
export function errorFromAck(ack: unknown): ParleyError {
  const error = isRecord(ack) ? ack["error"] : undefined;
  if (!isRecord(error)) return new ParleyError("internal", "malformed answer from the server");
  const code = typeof error["code"] === "string" ? error["code"] : "internal";
  const message = typeof error["message"] === "string" ? error["message"] : undefined;
  const retry = error["retryAfterMs"];
  return new ParleyError(code, message, typeof retry === "number" ? { retryAfterMs: retry } : {});
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A connection attempt failed for another reason than the token (network, timeout, server down). */
export class ConnectError extends Error {
  override name = "ConnectError";
}

/** The client was closed while this was waiting. */
export class ClientClosed extends Error {
  override name = "ClientClosed";
}
