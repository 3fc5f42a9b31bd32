/** Who is signed in, to which server, and how their tokens are obtained; kept in AsyncStorage. */

import AsyncStorage from "@react-native-async-storage/async-storage";
import { HttpError, type TokenProvider, authFailureCode, devToken, devTokenProvider, tokenSubject } from "@parley/client";

export interface Session {
  /** The gateway's base URL, e.g. `http://192.168.1.20:8000`. */
  server: string;
  userId: string;
  /** `dev`: tokens minted by a DEV_MODE server by name; `token`: a token the user pasted. */
  mode: "dev" | "token";
  token: string;
}

const KEY = "parley.session";

/** The server the sign-in screen proposes: `EXPO_PUBLIC_PARLEY_URL` at build time, if set. */
export const defaultServer = (): string => process.env["EXPO_PUBLIC_PARLEY_URL"] ?? "";

export async function loadSession(): Promise<Session | null> {
  try {
    const raw = await AsyncStorage.getItem(KEY);
    const session = raw ? (JSON.parse(raw) as Partial<Session>) : null;
    if (session && typeof session.server === "string" && typeof session.userId === "string" && typeof session.token === "string") {
      return { server: session.server, userId: session.userId, mode: session.mode === "dev" ? "dev" : "token", token: session.token };
    }
  } catch {
    // unreadable: sign in again
  }
  return null;
}

export async function saveSession(session: Session): Promise<void> {
  await AsyncStorage.setItem(KEY, JSON.stringify(session)).catch(() => undefined);
}

export async function clearSession(): Promise<void> {
  await AsyncStorage.removeItem(KEY).catch(() => undefined);
}

export function normalizeServer(server: string): string {
  const trimmed = server.trim().replace(/\/+$/, "");
  return /^https?:\/\//.test(trimmed) ? trimmed : `http://${trimmed}`;
}

/** Sign in as `userId` with a dev token (`POST /api/dev/token`; the server must run with DEV_MODE). */
export async function devSignIn(server: string, userId: string): Promise<Session> {
  const url = normalizeServer(server);
  return { server: url, userId, mode: "dev", token: await devToken(url, userId.trim()) };
}

/** Sign in with a token from the app's own backend. */
export function tokenSignIn(server: string, token: string): Session {
  return { server: normalizeServer(server), userId: subjectOf(token.trim()), mode: "token", token: token.trim() };
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
 * it expired); a dev token is the SDK's `devTokenProvider`'s, kept in AsyncStorage.
 */
export function tokenProvider(session: Session): TokenProvider {
  if (session.mode === "token") return () => session.token;
  return devTokenProvider({
    url: session.server,
    userId: session.userId,
    token: session.token,
    onRenewed: async (token) => {
      session.token = token;
      await saveSession(session);
    },
  });
}

/** A refused sign-in as words, or null when `error` is something else. */
export function signInProblem(error: unknown): string | null {
  const code = authFailureCode(error);
  if (code === null) return null;
  if (code.startsWith("auth_expired")) return "Your session has expired. Please sign in again.";
  if (code.startsWith("auth_missing")) return "You are not signed in. Please sign in.";
  return "The server did not accept your sign-in (the token is not valid). Please sign in again.";
}

/** Why signing in did not work, in words. */
export function signInFailure(error: unknown): string {
  const auth = signInProblem(error);
  if (auth !== null) return auth;
  if (error instanceof HttpError && error.status === 404) {
    return "Sign-in by name is off on this server (it is not in DEV_MODE). Paste a token instead.";
  }
  if (error instanceof HttpError && error.status === 0) return "The server cannot be reached. Check the address and your connection.";
  if (error instanceof HttpError && error.code === "invalid_payload") return "That name cannot be used: try letters and digits.";
  return error instanceof Error ? error.message : String(error);
}
