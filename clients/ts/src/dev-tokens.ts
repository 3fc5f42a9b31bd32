/** Tokens for apps signed in by name against a DEV_MODE server, and what a refused sign-in was. */

import type { TokenProvider } from "./connection.js";
import { AuthError, type AuthErrorCode, HttpError, authErrorFromHttp } from "./errors.js";
import { type FetchLike, devToken } from "./http.js";
import { tokenClaims } from "./ids.js";

/** Seconds until a JWT's `exp`; 0 when it has none or cannot be read (treat it as spent). */
export function tokenSecondsLeft(token: string, nowMs: number = Date.now()): number {
  try {
    const exp = tokenClaims(token)["exp"];
    return typeof exp === "number" ? exp - nowMs / 1000 : 0;
  } catch {
    return 0;
  }
}

export interface DevTokenProviderOptions {
  /** The server's base URL (it must run with DEV_MODE). */
  url: string;
  userId: string;
  /** A token minted earlier (kept by the app), reused while it has long enough to live. */
  token?: string;
  /** Mint again when the token has less than this long to live (default 60 s). */
  renewBeforeS?: number;
  /** Told each new token, to keep it: a restart while offline can then still start. */
  onRenewed?: (token: string) => void | Promise<void>;
  fetch?: FetchLike;
}

/**
 * A {@link TokenProvider} for development: it reuses the current dev token while it has more
 * than `renewBeforeS` left and otherwise asks the server for a new one
 * (`POST /api/dev/token`). Reusing matters offline: an app restarted without a network still
 * starts from its stored token and shows what it had queued.
 */
export function devTokenProvider(options: DevTokenProviderOptions): TokenProvider {
  const renewBeforeS = options.renewBeforeS ?? 60;
  let token = options.token;
  return async () => {
    if (token !== undefined && tokenSecondsLeft(token) > renewBeforeS) return token;
    token = await devToken(options.url, options.userId, options.fetch);
    await options.onRenewed?.(token);
    return token;
  };
}

/**
 * Why the server refused who the user is (`auth_missing`, `auth_invalid`, `auth_expired`),
 * from a socket's {@link AuthError} or an HTTP 401; null when `error` is anything else.
 */
export function authFailureCode(error: unknown): AuthErrorCode | null {
  const auth = error instanceof HttpError ? authErrorFromHttp(error) : error;
  return auth instanceof AuthError ? auth.code : null;
}
