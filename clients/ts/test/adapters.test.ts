/** Storage and network adapters, ids and tokens: what makes the core platform-neutral. */

import { describe, expect, it } from "vitest";

import { authFailureCode, devTokenProvider, tokenSecondsLeft } from "../src/dev-tokens.js";
import { AuthError, HttpError } from "../src/errors.js";
import { ParleyHttp, devToken, type FetchLike } from "../src/http.js";
import { tokenSubject, uuid4 } from "../src/ids.js";
import { browserNetwork, netInfoNetwork } from "../src/network.js";
import { Outbox } from "../src/outbox.js";
import { asyncStorage, type KeyValueStorage, webStorage } from "../src/storage.js";
import { jwt } from "./fakes.js";

function fakeLocalStorage(): KeyValueStorage & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

describe("storage", () => {
  it("keeps the outbox in localStorage, in order, and removes the key once empty", async () => {
    const local = fakeLocalStorage();
    const outbox = new Outbox(webStorage(local), "q");
    await outbox.put({ conversationId: "c1", clientMessageId: "a", body: "one" });
    await outbox.put({ conversationId: "c1", clientMessageId: "b", body: "two" });
    const reloaded = new Outbox(webStorage(local), "q");
    expect((await reloaded.load()).map((i) => i.body)).toEqual(["one", "two"]);
    await outbox.remove("a");
    await outbox.remove("b");
    expect(local.data.has("q")).toBe(false);
  });

  it("falls back to memory when localStorage refuses", async () => {
    const refusing: KeyValueStorage = {
      getItem: () => {
        throw new Error("SecurityError");
      },
      setItem: () => {
        throw new Error("QuotaExceededError");
      },
      removeItem: () => undefined,
    };
    const outbox = new Outbox(webStorage(refusing), "q");
    await outbox.put({ conversationId: "c1", clientMessageId: "a", body: "kept in memory" });
    expect(outbox.size).toBe(1);
  });

  it("works with an async store like React Native's AsyncStorage", async () => {
    const data = new Map<string, string>();
    const AsyncStorage = {
      getItem: async (k: string) => data.get(k) ?? null,
      setItem: async (k: string, v: string) => void data.set(k, v),
      removeItem: async (k: string) => void data.delete(k),
    };
    const outbox = new Outbox(asyncStorage(AsyncStorage), "q");
    await outbox.put({ conversationId: "c1", clientMessageId: "a", body: "one" });
    expect(JSON.parse(data.get("q") ?? "[]")).toEqual([{ conversationId: "c1", clientMessageId: "a", body: "one" }]);
    expect(await new Outbox(asyncStorage(AsyncStorage), "q").load()).toHaveLength(1);
  });

  it("ignores a corrupt stored queue", async () => {
    const local = fakeLocalStorage();
    local.setItem("q", "{not json");
    expect(await new Outbox(local, "q").load()).toEqual([]);
  });
});

describe("network", () => {
  it("follows a browser's online and offline events", () => {
    const listeners = new Map<string, () => void>();
    const target = {
      addEventListener: (type: string, l: () => void) => void listeners.set(type, l),
      removeEventListener: (type: string) => void listeners.delete(type),
    };
    const navigator = { onLine: false };
    const network = browserNetwork(target, navigator);
    expect(network.isOnline()).toBe(false);
    const seen: boolean[] = [];
    const stop = network.subscribe((online) => seen.push(online));
    listeners.get("online")?.();
    listeners.get("offline")?.();
    expect(seen).toEqual([true, false]);
    stop();
    expect(listeners.size).toBe(0);
  });

  it("follows React Native's NetInfo", () => {
    let report: (state: { isConnected: boolean | null }) => void = () => undefined;
    const network = netInfoNetwork({
      addEventListener: (listener) => {
        report = listener;
        return () => undefined;
      },
    });
    const seen: boolean[] = [];
    network.subscribe((online) => seen.push(online));
    report({ isConnected: null });
    report({ isConnected: false });
    expect(network.isOnline()).toBe(false);
    report({ isConnected: true });
    expect(seen).toEqual([false, true]);
  });
});

describe("ids and tokens", () => {
  it("makes distinct v4 UUIDs", () => {
    const ids = new Set(Array.from({ length: 1_000 }, uuid4));
    expect(ids.size).toBe(1_000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("reads the user from a token, non-ASCII included", () => {
    expect(tokenSubject(jwt("zoë-😀"))).toBe("zoë-😀");
    expect(() => tokenSubject("not a token")).toThrow(/not a JWT/);
  });
});

describe("http", () => {
  it("lists and creates conversations with the bearer token and reports errors by code", async () => {
    const calls: Array<[string, Parameters<FetchLike>[1]]> = [];
    const fetch: FetchLike = async (url, init) => {
      calls.push([url, init]);
      if (init.method === "POST") {
        return { ok: false, status: 422, json: async () => ({ error: { code: "invalid_payload", message: "memberIds" } }) };
      }
      return { ok: true, status: 200, json: async () => ({ conversations: [{ id: "c1" }] }) };
    };
    const http = new ParleyHttp({ url: "http://parley.test/", tokenProvider: () => "T", fetch });
    expect(await http.listConversations()).toEqual([{ id: "c1" }]);
    await expect(http.createConversation([])).rejects.toMatchObject({ status: 422, code: "invalid_payload" });
    expect(calls[0]).toEqual(["http://parley.test/api/conversations", { method: "GET", headers: { authorization: "Bearer T" } }]);
  });

  it("gets a dev token, or says the server is unreachable", async () => {
    const ok: FetchLike = async () => ({ ok: true, status: 200, json: async () => ({ token: "dev" }) });
    expect(await devToken("http://parley.test", "alice", ok)).toBe("dev");
    const down: FetchLike = async () => {
      throw new TypeError("Failed to fetch");
    };
    await expect(devToken("http://parley.test", "alice", down)).rejects.toMatchObject({ status: 0, code: "unavailable" });
  });
});

describe("dev tokens", () => {
  const minting = (): { fetch: FetchLike; calls: () => number } => {
    let calls = 0;
    const fetch: FetchLike = async () => {
      calls += 1;
      return { ok: true, status: 200, json: async () => ({ token: jwt("alice", Date.now() / 1000 + 3600) }) };
    };
    return { fetch, calls: () => calls };
  };

  it("reuses a token with time left, mints one when it is about to expire, and hands it on", async () => {
    const { fetch, calls } = minting();
    const kept: string[] = [];
    const fresh = jwt("alice", Date.now() / 1000 + 600);
    const reusing = devTokenProvider({ url: "http://parley.test", userId: "alice", token: fresh, fetch });
    expect(await reusing()).toBe(fresh);
    expect(calls()).toBe(0);

    const stale = jwt("alice", Date.now() / 1000 + 30);
    const renewing = devTokenProvider({
      url: "http://parley.test",
      userId: "alice",
      token: stale,
      fetch,
      onRenewed: (token) => void kept.push(token),
    });
    const renewed = await renewing();
    expect(renewed).not.toBe(stale);
    expect(tokenSecondsLeft(renewed)).toBeGreaterThan(3000);
    expect(kept).toEqual([renewed]);
    expect(await renewing()).toBe(renewed);
    expect(calls()).toBe(1);
  });

  it("treats an unreadable token as spent", () => {
    expect(tokenSecondsLeft("not-a-jwt")).toBe(0);
  });

  it("names a refused sign-in from a socket or an HTTP 401, and nothing else", () => {
    expect(authFailureCode(new AuthError("auth_expired", "expired"))).toBe("auth_expired");
    expect(authFailureCode(new HttpError(401, "unauthorized", "auth_expired: the token expired"))).toBe("auth_expired");
    expect(authFailureCode(new HttpError(401, "unauthorized", "no token: auth missing"))).toBe("auth_missing");
    expect(authFailureCode(new HttpError(404, "not_found", "no"))).toBeNull();
    expect(authFailureCode(new Error("boom"))).toBeNull();
  });
});
