/** Who is signed in, how their tokens are obtained, and what to tell them when that fails. */

import { HttpError, type TokenProvider, authFailureCode, devToken, devTokenProvider, tokenSubject } from "@parley/client";

export interface Session {
  userId: string;
  /** `dev`: tokens minted by the server in DEV_MODE; `token`: a token the user pasted. */
  mode: "dev" | "token";
  token: string;
}

const KEY = "parley.session";

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
  return { userId: subjectOf(token.trim()), mode: "token", token: token.trim() };
}

function subjectOf(token: string): string {
  try {
    return tokenSubject(token);
  } catch {
    throw new Error("That is not a valid token: a JWT looks like xxxxx.yyyyy.zzzzz and names its user.");
  }
}

/**
 * Asked before every connection attempt. A pasted token is what it is (the server says when
 * it expired); a dev token is the SDK's `devTokenProvider`'s, kept across reloads.
 */
export function tokenProvider(session: Session): TokenProvider {
  if (session.mode === "token") return () => session.token;
  return devTokenProvider({
    url: serverUrl(),
    userId: session.userId,
    token: session.token,
    onRenewed: (token) => {
      session.token = token;
      saveSession(session);
    },
  });
}

/** The words for a refused sign-in, by protocol code (or an HTTP 401's `auth_*` prefix). */
export function authProblem(code: string): string {
  if (code.startsWith("auth_expired")) return "Your session has expired. Please sign in again.";
  if (code.startsWith("auth_missing")) return "You are not signed in. Please sign in.";
  return "The server did not accept your sign-in (the token is not valid). Please sign in again.";
}

/** A refused sign-in as words, or null when `error` is something else. */
export function signInProblem(error: unknown): string | null {
  const code = authFailureCode(error);
  return code === null ? null : authProblem(code);
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
