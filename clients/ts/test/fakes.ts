/** A scriptable in-memory Parley server and sockets for it: the SDK's tests run on fake timers. */

import type { SocketFactory, SocketLike, SocketOptions } from "../src/connection.js";
import type { FetchLike } from "../src/http.js";
import { tokenSubject } from "../src/ids.js";
import type { WireMessage } from "../src/models.js";

/** A handler's answer meaning "never ack" (a lost answer). */
export const NO_ANSWER = Symbol("no answer");
type Answer = unknown | typeof NO_ANSWER;
type Handler = (payload: Record<string, unknown>, socket: FakeSocket) => Answer | Promise<Answer>;

export function jwt(sub: string, exp = 4_102_444_800): string {
  const encode = (value: object): string => btoaUrl(JSON.stringify(value));
  return `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ sub, exp })}.signature`;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function btoaUrl(text: string): string {
  const bytes = [...unescape(encodeURIComponent(text))].map((c) => c.charCodeAt(0));
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const [a = 0, b = 0, c = 0] = bytes.slice(i, i + 3);
    const n = (a << 16) | (b << 8) | c;
    const chars = [18, 12, 6, 0].map((shift) => ALPHABET[(n >> shift) & 63]).join("");
    out += chars.slice(0, Math.min(4, bytes.length - i + 1));
  }
  return out;
}

interface Member {
  userId: string;
  lastDeliveredSeq: number;
  lastReadSeq: number;
}

export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  readonly handshakes: Array<Record<string, string>> = [];
  readonly received: Array<{ event: string; payload: Record<string, unknown>; at: number }> = [];
  /** What the next connection attempts meet. */
  mode: "accept" | "refuse" | "unreachable" | "silent" = "accept";
  refusal: { message: string; data: { code: string; message: string } } = {
    message: "auth_expired",
    data: { code: "auth_expired", message: "the token has expired" },
  };
  /** What HTTP requests meet: `"socket"` follows {@link mode} (unreachable for both, else answered). */
  httpMode: "socket" | "accept" | "unreachable" | "silent" = "socket";
  /** `GET /api/client-config`'s answer; `null`: 404, as a server from before PROTOCOL §7. */
  clientConfig: unknown = { features: { messages: "socket", typing: "socket", presence: "socket" }, httpPollIntervalMs: 3_000 };
  /** Every HTTP request, as `METHOD /path?query`. */
  readonly requests: Array<{ method: string; path: string; body: Record<string, unknown>; at: number }> = [];
  readonly messages = new Map<string, WireMessage[]>();
  readonly members = new Map<string, Map<string, Member>>();
  readonly online = new Set<string>();
  private readonly keys = new Map<string, WireMessage>();
  private readonly handlers = new Map<string, Handler>();
  private nextId = 1;

  constructor(readonly now: () => number = () => Date.now()) {
    this.handle("conversation:join", (p, s) => this.join(String(p["conversationId"]), s.userId));
    this.handle("messages:sync", (p) => this.sync(p));
    this.handle("message:send", (p, s) => this.send(s.userId, p));
    this.handle("message:delivered", (p, s) => this.receipt("delivered", s.userId, p));
    this.handle("message:read", (p, s) => this.receipt("read", s.userId, p));
    this.handle("typing:start", () => undefined);
    this.handle("typing:stop", () => undefined);
  }

  readonly factory: SocketFactory = (_url, options) => new FakeSocket(this, options);

  /** The HTTP API of PROTOCOL §5 and §7 over the same data as the sockets. */
  readonly fetch: FetchLike = async (url, init) => {
    const mode = this.httpMode === "socket" ? (this.mode === "unreachable" ? "unreachable" : "accept") : this.httpMode;
    await Promise.resolve();
    if (mode === "unreachable") throw new TypeError("fetch failed");
    if (mode === "silent") return new Promise(() => undefined);
    const [pathname = "", search = ""] = url.replace(/^https?:\/\/[^/]+/, "").split("?");
    const searchParams = new Map(search.split("&").filter(Boolean).map((kv) => kv.split("=") as [string, string]));
    const body = (init.body !== undefined ? JSON.parse(init.body) : {}) as Record<string, unknown>;
    this.requests.push({ method: init.method, path: search ? `${pathname}?${search}` : pathname, body, at: this.now() });
    const token = (init.headers["authorization"] ?? "").replace(/^Bearer /, "");
    const [status, answer, headers] = this.route(init.method, pathname.split("/").slice(2), searchParams, body, token);
    return {
      ok: status < 300,
      status,
      headers: { get: (name: string) => headers?.[name.toLowerCase()] ?? null },
      json: async () => answer,
    };
  };

  /** HTTP requests to one route, e.g. `("GET", "/api/conversations/c1/messages")`, query left out. */
  calls(method: string, path: string): Array<{ query: string; body: Record<string, unknown>; at: number }> {
    return this.requests
      .filter((r) => r.method === method && r.path.split("?")[0] === path)
      .map((r) => ({ query: r.path.split("?")[1] ?? "", body: r.body, at: r.at }));
  }

  /** Replace the answer of an HTTP route (`"POST messages"`, `"GET conversation"`, ...) for a while. */
  readonly httpHandlers = new Map<string, (body: Record<string, unknown>) => [number, unknown, Record<string, string>?]>();

  private route(
    method: string,
    path: string[],
    query: Map<string, string>,
    body: Record<string, unknown>,
    token: string,
  ): [number, unknown, Record<string, string>?] {
    const userId = (() => {
      try {
        return tokenSubject(token);
      } catch {
        return "";
      }
    })();
    if (userId === "") return [401, { error: { code: "unauthenticated", message: "no token" } }];
    const [first, id, sub] = path;
    if (first === "client-config") return this.clientConfig === null ? [404, { error: { code: "not_found" } }] : [200, this.clientConfig];
    if (first !== "conversations" || id === undefined) return [404, { error: { code: "not_found", message: "no route" } }];
    const key = `${method} ${sub ?? "conversation"}`;
    if (method === "POST") this.received.push({ event: `http:${key}`, payload: { conversationId: id, ...body }, at: this.now() });
    const override = this.httpHandlers.get(key);
    if (override !== undefined) return override(body);
    const members = this.members.get(id);
    if (members === undefined) return [404, { error: { code: "not_found", message: "no such conversation" } }];
    const asAck = (ack: unknown, created = false): [number, unknown] => {
      const answer = ack as { ok: boolean; error?: { code: string } } & Record<string, unknown>;
      if (answer.ok) {
        const { ok: _ok, ...rest } = answer;
        return [created && rest["duplicate"] === false ? 201 : 200, rest];
      }
      const code = answer.error?.code ?? "internal";
      const status = { invalid_payload: 422, forbidden: 403, not_found: 404, rate_limited: 429 }[code] ?? 503;
      return [status, { error: answer.error }];
    };
    if (key === "GET conversation") {
      const list = this.messages.get(id) ?? [];
      return [200, {
        id, title: null, memberIds: [...members.keys()], createdAt: "2026-11-26T09:00:00.000Z", lastSeq: list.length,
        members: [...members.values()].map((m) => ({ ...m, online: this.online.has(m.userId) })),
      }];
    }
    if (key === "GET messages") {
      const afterSeq = Number(query.get("afterSeq") ?? 0);
      const limit = Number(query.get("limit") ?? 100);
      return asAck(this.sync({ conversationId: id, afterSeq, limit }));
    }
    if (key === "POST messages") return asAck(this.send(userId, { conversationId: id, ...body }), true);
    if (key === "POST delivered" || key === "POST read") {
      return asAck(this.receipt(sub as "delivered" | "read", userId, { conversationId: id, ...body }));
    }
    return [404, { error: { code: "not_found", message: "no route" } }];
  }

  /** Replace the handler of a client event (return {@link NO_ANSWER} to never answer). */
  handle(event: string, handler: Handler): void {
    this.handlers.set(event, handler);
  }

  conversation(id: string, ...userIds: string[]): void {
    this.messages.set(id, []);
    this.members.set(id, new Map(userIds.map((u) => [u, { userId: u, lastDeliveredSeq: 0, lastReadSeq: 0 }])));
  }

  get connected(): FakeSocket[] {
    return this.sockets.filter((s) => s.connected);
  }

  /** Store a message as if another client sent it; returns it (not emitted). */
  store(conversationId: string, senderId: string, body: string, clientMessageId?: string): WireMessage {
    const list = this.messages.get(conversationId) ?? [];
    const message: WireMessage = {
      id: `m${this.nextId++}`,
      conversationId,
      senderId,
      clientMessageId: clientMessageId ?? `k${this.nextId}`,
      body,
      seq: list.length + 1,
      createdAt: new Date(this.now()).toISOString(),
    };
    list.push(message);
    this.messages.set(conversationId, list);
    this.keys.set(`${senderId}/${message.clientMessageId}`, message);
    return message;
  }

  /** Emit a server event to every connected socket. */
  emit(event: string, data: unknown): void {
    for (const socket of this.connected) socket.deliver(event, data);
  }

  /** The link of every connected socket dies (as a ping timeout or a transport close). */
  drop(reason = "transport close"): void {
    for (const socket of this.connected) socket.lose(reason);
  }

  sends(): Array<Record<string, unknown>> {
    return this.received.filter((r) => r.event === "message:send").map((r) => r.payload);
  }

  dispatch(event: string, payload: Record<string, unknown>, socket: FakeSocket): Answer | Promise<Answer> {
    this.received.push({ event, payload, at: this.now() });
    const handler = this.handlers.get(event);
    return handler === undefined ? NO_ANSWER : handler(payload, socket);
  }

  private join(conversationId: string, userId: string): unknown {
    const members = this.members.get(conversationId);
    if (members === undefined) return { ok: false, error: { code: "not_found", message: "no such conversation" } };
    this.online.add(userId);
    return {
      ok: true,
      conversationId,
      lastSeq: this.messages.get(conversationId)?.length ?? 0,
      members: [...members.values()].map((m) => ({ ...m, online: this.online.has(m.userId) })),
    };
  }

  private sync(payload: Record<string, unknown>): unknown {
    const list = this.messages.get(String(payload["conversationId"])) ?? [];
    const after = Number(payload["afterSeq"] ?? 0);
    const limit = Number(payload["limit"] ?? 100);
    const page = list.filter((m) => m.seq > after).slice(0, limit);
    return { ok: true, messages: page, hasMore: list.filter((m) => m.seq > after).length > limit, lastSeq: list.length };
  }

  private send(userId: string, payload: Record<string, unknown>): unknown {
    const key = `${userId}/${String(payload["clientMessageId"])}`;
    const stored = this.keys.get(key);
    if (stored !== undefined) return { ok: true, message: stored, duplicate: true };
    // As the server stores it (PROTOCOL §4.2), spelled out here rather than taken from the SDK.
    const body = String(payload["body"]).trim().replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    const message = this.store(String(payload["conversationId"]), userId, body, String(payload["clientMessageId"]));
    return { ok: true, message, duplicate: false };
  }

  private receipt(kind: "delivered" | "read", userId: string, payload: Record<string, unknown>): unknown {
    const member = this.members.get(String(payload["conversationId"]))?.get(userId);
    const seq = Number(payload["upToSeq"]);
    if (member !== undefined) {
      member.lastDeliveredSeq = Math.max(member.lastDeliveredSeq, seq);
      if (kind === "read") member.lastReadSeq = Math.max(member.lastReadSeq, seq);
    }
    return { ok: true, upToSeq: seq };
  }
}

type Listener = (...args: never[]) => void;

export class FakeSocket implements SocketLike {
  connected = false;
  readonly userId: string;
  private listeners = new Map<string, Listener[]>();
  private any: Array<(event: string, ...args: unknown[]) => void> = [];

  constructor(
    private readonly server: FakeServer,
    readonly options: SocketOptions,
  ) {
    let sub = "";
    try {
      sub = tokenSubject(options.auth["token"] ?? "");
    } catch {
      sub = "";
    }
    this.userId = sub;
    server.sockets.push(this);
  }

  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }

  onAny(listener: (event: string, ...args: unknown[]) => void): this {
    this.any.push(listener);
    return this;
  }

  removeAllListeners(): this {
    this.listeners.clear();
    this.any = [];
    return this;
  }

  connect(): this {
    this.server.handshakes.push({ ...this.options.auth });
    const mode = this.server.mode;
    void Promise.resolve().then(() => {
      if (mode === "accept") {
        this.connected = true;
        this.fire("connect");
      } else if (mode === "refuse") {
        const error = Object.assign(new Error(this.server.refusal.message), { data: this.server.refusal.data });
        this.fire("connect_error", error);
      } else if (mode === "unreachable") {
        this.fire("connect_error", new Error("xhr poll error"));
      }
    });
    return this;
  }

  disconnect(): this {
    if (this.connected) this.lose("io client disconnect");
    return this;
  }

  emit(event: string, ...args: unknown[]): this {
    if (!this.connected) return this; // a fresh socket per attempt: nothing is buffered
    const [payload, ack] = args as [Record<string, unknown>, ((answer: unknown) => void) | undefined];
    void Promise.resolve(this.server.dispatch(event, payload, this)).then((answer) => {
      if (answer !== NO_ANSWER && ack !== undefined && this.connected) ack(answer);
    });
    return this;
  }

  /** A server event reaches this socket. */
  deliver(event: string, data: unknown): void {
    if (!this.connected) return;
    for (const listener of this.any) listener(event, data);
  }

  lose(reason: string): void {
    this.connected = false;
    this.server.online.delete(this.userId);
    this.fire("disconnect", reason);
  }

  private fire(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (...a: unknown[]) => void)(...args);
  }
}
