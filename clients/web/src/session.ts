/** Who is signed in, how their tokens are obtained, and what to tell them when that fails. */

import { AuthError, HttpError, type TokenProvider, devToken, tokenClaims } from "@parley/client";

export interface Session {
  userId: string;
  /** `dev`: tokens minted by the server in DEV_MODE; `token`: a token the user pasted. */
  mode: "dev" | "token";
  token: string;
}

const KEY = "parley.session";
/** A dev token is minted again when it has less than this long to live. */
const RENEW_BEFORE_S = 60;

export const serverUrl = (): string => window.location.origin;

export function loadSession(): Session | null {
  try {
    const raw = window.localStorage.getItem(KEY);
    const session = raw ? (JSON.parse(raw) as Partial<Session>) : null;
    if (session && typeof session.userId === "string" && typeof session.token === "string") {
      return { userId: session.userId, mode: session.mode === "dev" ? "dev" : "token", token: session.token };
    }
  } catch {
    // unreadable: sign in again
  }
  return null;
}

export function saveSession(session: Session): void {
  try {
    window.localStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // private mode: the session lasts as long as the page
  }
}

export function clearSession(): void {
  try {
    window.localStorage.removeItem(KEY);
  } catch {
    // nothing kept
  }
}

/** Sign in as `userId` with a dev token (the server must run with DEV_MODE). */
export async function devSignIn(userId: string): Promise<Session> {
  return { userId, mode: "dev", token: await devToken(serverUrl(), userId) };
}

/** Sign in with a token from the app's own backend. */
export function tokenSignIn(token: string): Session {
  let sub: unknown;
  try {
    sub = tokenClaims(token.trim())["sub"];
  } catch {
    sub = undefined;
  }
  if (typeof sub !== "string" || sub === "") {
    throw new Error("That is not a valid token: a JWT looks like xxxxx.yyyyy.zzzzz and names its user.");
  }
  return { userId: sub, mode: "token", token: token.trim() };
}

/**
 * Asked before every connection attempt. A pasted token is what it is (the server says when
 * it expired); a dev token is reused while it has a minute left, else minted again, so a
 * reload while offline still starts (and shows what was queued).
 */
export function tokenProvider(session: Session): TokenProvider {
  return async () => {
    if (session.mode === "token" || secondsLeft(session.token) > RENEW_BEFORE_S) return session.token;
    session.token = (await devSignIn(session.userId)).token;
    saveSession(session);
    return session.token;
  };
}

function secondsLeft(token: string): number {
  try {
    const exp = tokenClaims(token)["exp"];
    return typeof exp === "number" ? exp - Date.now() / 1000 : 0;
  } catch {
    return 0;
  }
}

/** The words for a refused sign-in, by protocol code (or an HTTP 401's `auth_*` prefix). */
export function authProblem(code: string): string {
  if (code.startsWith("auth_expired")) return "Your session has expired. Please sign in again.";
  if (code.startsWith("auth_missing")) return "You are not signed in. Please sign in.";
  return "The server did not accept your sign-in (the token is not valid). Please sign in again.";
}

/** A refused sign-in as words, or null when `error` is something else. */
export function signInProblem(error: unknown): string | null {
  if (error instanceof AuthError) return authProblem(error.code);
  if (error instanceof HttpError && error.status === 401) return authProblem(error.message);
  return null;
}

/** Why signing in did not work, in words. */
export function signInFailure(error: unknown): string {
  const auth = signInProblem(error);
  if (auth !== null) return auth;
  if (error instanceof HttpError && error.status === 404) {
    return "Sign-in by name is off on this server (it is not in DEV_MODE). Paste a token from your app instead.";
  }
  if (error instanceof HttpError && error.status === 0) return "The server cannot be reached. Check your connection.";
  if (error instanceof HttpError && error.code === "invalid_payload") return "That name cannot be used: try letters and digits.";
  return error instanceof Error ? error.message : String(error);
}
