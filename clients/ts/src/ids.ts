/** Ids and tokens, with nothing but the language: no `crypto` module, no `atob`, no TextDecoder. */

interface CryptoLike {
  getRandomValues<T extends Uint8Array>(array: T): T;
}

/** A random UUID v4 (the `clientMessageId`): from `crypto.getRandomValues` where there is one. */
export function uuid4(): string {
  const bytes = new Uint8Array(16);
  const crypto = (globalThis as { crypto?: CryptoLike }).crypto;
  if (crypto !== undefined && typeof crypto.getRandomValues === "function") crypto.getRandomValues(bytes);
  else for (let i = 0; i < 16; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The claims of a JWT, read without verifying it (the server verifies). */
export function tokenClaims(token: string): Record<string, unknown> {
  const part = token.split(".")[1];
  if (part === undefined) throw new Error("not a JWT");
  const claims: unknown = JSON.parse(utf8(base64url(part)));
  if (typeof claims !== "object" || claims === null) throw new Error("not a JWT");
  return claims as Record<string, unknown>;
}

/** The user id (`sub`) of a JWT. */
export function tokenSubject(token: string): string {
  let sub: unknown;
  try {
    sub = tokenClaims(token)["sub"];
  } catch {
    sub = undefined;
  }
  if (typeof sub !== "string" || sub === "") {
    throw new Error("the token provider returned something that is not a JWT with `sub`");
  }
  return sub;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function base64url(text: string): number[] {
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of text.replace(/=+$/, "")) {
    const value = ALPHABET.indexOf(char === "+" ? "-" : char === "/" ? "_" : char);
    if (value < 0) throw new Error("not base64url");
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return bytes;
}

function utf8(bytes: number[]): string {
  return decodeURIComponent(bytes.map((b) => `%${b.toString(16).padStart(2, "0")}`).join(""));
}
