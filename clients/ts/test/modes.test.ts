/** PROTOCOL §7: each feature over the socket or HTTP, the server's config as a ceiling; on fake timers. */

import { describe, expect, it } from "vitest";

import { CONFIG_REFRESH_MS } from "../src/config.js";
import type { FeatureModes } from "../src/config.js";
import { AuthError, HttpError, authErrorFromHttp } from "../src/errors.js";
import { FakeServer, NO_ANSWER, jwt } from "./fakes.js";
import { advance, bodies, settle, startClient, statuses, useFakeTime } from "./helpers.js";

useFakeTime();

const HTTP_ONLY: FeatureModes = { messages: "http", typing: "off", presence: "http" };

function pair(features: Partial<FeatureModes> = {}, httpPollIntervalMs = 3_000): FakeServer {
  const server = new FakeServer();
  server.conversation("c1", "alice", "bob");
  allow(server, features, httpPollIntervalMs);
  return server;
}

function allow(server: FakeServer, features: Partial<FeatureModes>, httpPollIntervalMs = 3_000): void {
  server.clientConfig = {
    features: { messages: "socket", typing: "socket", presence: "socket", ...features },
    httpPollIntervalMs,
  };
}

function socketEvents(server: FakeServer, event: string): number {
  return server.received.filter((r) => r.event === event).length;
}

function pollAfterSeqs(server: FakeServer): number[] {
  return server.calls("GET", "/api/conversations/c1/messages").map((c) => Number(/afterSeq=(\d+)/.exec(c.query)?.[1]));
}

describe("client config", () => {
  it("is read before connecting, and the server's http is a ceiling over the app's socket", async () => {
    const server = pair({ messages: "http" });
    const client = await startClient(server, "alice");
    expect(server.requests[0]?.path).toBe("/api/client-config");
    expect(client.modes).toEqual({ messages: "http", typing: "socket", presence: "socket" });
    expect(client.clientConfig.httpPollIntervalMs).toBe(3_000);

    const chat = await client.open("c1");
    await chat.send("over http");
    await settle();
    expect(statuses(chat)).toEqual(["sent"]);
    expect(socketEvents(server, "message:send")).toBe(0);
    expect(server.calls("POST", "/api/conversations/c1/messages").map((c) => c.body["body"])).toEqual(["over http"]);
  });

  it("keeps the app's http when the server allows sockets", async () => {
    const server = pair();
    const client = await startClient(server, "alice", { features: { presence: "http" } });
    expect(client.modes).toEqual({ messages: "socket", typing: "socket", presence: "http" });
  });

  it("opens no socket when every feature is on HTTP, and reports polling as the state", async () => {
    const server = pair(HTTP_ONLY);
    const client = await startClient(server, "alice");
    await client.open("c1");
    expect(server.sockets).toHaveLength(0);
    expect(client.state).toBe("connected");
    server.httpMode = "unreachable";
    await advance(3_000);
    expect(client.state).toBe("disconnected");
    server.httpMode = "accept";
    await advance(3_000);
    expect(client.state).toBe("connected");
    expect(server.sockets).toHaveLength(0);
  });

  it("polls from the start when the app itself chose HTTP for everything", async () => {
    const server = pair();
    server.store("c1", "bob", "before");
    const client = await startClient(server, "alice", { features: HTTP_ONLY });
    const chat = await client.open("c1");
    expect(server.sockets).toHaveLength(0);
    expect(client.state).toBe("connected");
    expect(bodies(chat)).toEqual(["before"]);
    server.store("c1", "bob", "after");
    await advance(3_000);
    expect(bodies(chat)).toEqual(["before", "after"]);
  });

  it("takes a server without the endpoint (404) as allowing sockets", async () => {
    const server = pair();
    server.clientConfig = null;
    const client = await startClient(server, "alice", { features: { typing: "off" } });
    expect(client.modes).toEqual({ messages: "socket", typing: "off", presence: "socket" });
    expect(client.state).toBe("connected");
  });

  it("is read again after every reconnect and every 5 minutes", async () => {
    const server = pair();
    const client = await startClient(server, "alice");
    const reads = (): number => server.calls("GET", "/api/client-config").length;
    expect(reads()).toBe(2); // before connecting, and after the connect
    server.drop();
    await advance(1_000);
    expect(reads()).toBe(3);
    await advance(CONFIG_REFRESH_MS - 1);
    expect(reads()).toBe(3);
    await advance(1);
    expect(reads()).toBe(4);
    expect(client.state).toBe("connected");
  });
});

describe("messages over HTTP", () => {
  it("polls after the last seq held every httpPollIntervalMs, and acknowledges delivery", async () => {
    const server = pair(HTTP_ONLY, 2_000);
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    server.store("c1", "bob", "one");
    await advance(1_999);
    expect(bodies(chat)).toEqual([]);
    await advance(1);
    expect(bodies(chat)).toEqual(["one"]);
    server.store("c1", "bob", "two");
    server.store("c1", "bob", "three");
    await advance(2_000);
    expect(bodies(chat)).toEqual(["one", "two", "three"]);
    expect(pollAfterSeqs(server)).toEqual([0, 0, 1]);
    expect(server.calls("POST", "/api/conversations/c1/delivered").map((c) => c.body["upToSeq"])).toEqual([1, 3]);
  });

  it("asks for watermarks only while a message of this user is not read by everyone (presence on the socket)", async () => {
    const server = pair({ messages: "http" });
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    const gets = (): number => server.calls("GET", "/api/conversations/c1").length;
    const bob = server.members.get("c1")?.get("bob");
    if (bob === undefined) throw new Error("no bob");
    const first = gets(); // the first poll, before the join's snapshot came
    await advance(9_000);
    expect(gets()).toBe(first); // nothing of alice's to watch
    await chat.send("watch me");
    await advance(3_000);
    expect(gets()).toBe(first + 1);
    bob.lastReadSeq = bob.lastDeliveredSeq = 1;
    await advance(3_000);
    expect(statuses(chat)).toEqual(["read"]);
    const after = gets();
    await advance(9_000);
    expect(gets()).toBe(after);
    expect(pollAfterSeqs(server).length).toBeGreaterThanOrEqual(8); // messages are polled every time
  });

  it("waits Retry-After before the next poll when polling is rate limited", async () => {
    const server = pair(HTTP_ONLY);
    const client = await startClient(server, "alice");
    await client.open("c1");
    const polls = (): number[] => server.calls("GET", "/api/conversations/c1/messages").map((c) => c.at);
    server.httpHandlers.set("GET messages", () => [429, { error: { code: "rate_limited", message: "slow" } }, { "retry-after": "10" }]);
    const start = Date.now();
    await advance(3_000); // refused
    server.httpHandlers.delete("GET messages");
    await advance(9_999);
    expect(polls().filter((at) => at > start).map((at) => at - start)).toEqual([3_000]);
    await advance(1);
    expect(polls().filter((at) => at > start).map((at) => at - start)).toEqual([3_000, 13_000]);
  });

  it("shows statuses from polled watermarks, up to read, and sends markRead over HTTP", async () => {
    const server = pair(HTTP_ONLY);
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    await chat.send("hello");
    await settle();
    expect(statuses(chat)).toEqual(["sent"]);
    const bob = server.members.get("c1")?.get("bob");
    if (bob === undefined) throw new Error("no bob");
    bob.lastDeliveredSeq = 1;
    await advance(3_000);
    expect(statuses(chat)).toEqual(["delivered"]);
    bob.lastReadSeq = 1;
    await advance(3_000);
    expect(statuses(chat)).toEqual(["read"]);

    server.store("c1", "bob", "from bob");
    await advance(3_000);
    await chat.markRead();
    expect(server.calls("POST", "/api/conversations/c1/read").map((c) => c.body["upToSeq"])).toEqual([2]);
    expect(chat.snapshot().unread).toBe(0);
  });

  it("retries after 1, 2, 4 s with the same clientMessageId, then fails, as over the socket", async () => {
    const server = pair(HTTP_ONLY);
    server.httpHandlers.set("POST messages", () => [503, { error: { code: "unavailable", message: "down" } }]);
    const client = await startClient(server, "alice");
    const chat = client.conversation("c1");
    await settle();
    const start = Date.now();
    await chat.send("persistent");
    await advance(7_000);
    const posts = server.received.filter((r) => r.event === "http:POST messages");
    expect(posts.map((r) => r.at - start)).toEqual([0, 1_000, 3_000, 7_000]);
    expect(new Set(posts.map((r) => r.payload["clientMessageId"])).size).toBe(1);
    expect(statuses(chat)).toEqual(["failed"]);
    expect(chat.messages()[0]?.error?.code).toBe("unavailable");
  });

  it("waits Retry-After on a 429 without counting it", async () => {
    const server = pair(HTTP_ONLY);
    let refusals = 5;
    server.httpHandlers.set("POST messages", () => [429, { error: { code: "rate_limited", message: "slow" } }, { "retry-after": "2" }]);
    const client = await startClient(server, "alice");
    const chat = client.conversation("c1");
    await settle();
    const start = Date.now();
    await chat.send("patient");
    await advance(2_000 * (refusals - 1));
    refusals = 0;
    server.httpHandlers.delete("POST messages");
    await advance(2_000);
    const posts = server.received.filter((r) => r.event === "http:POST messages").map((r) => r.at - start);
    expect(posts).toEqual([0, 2_000, 4_000, 6_000, 8_000, 10_000]);
    expect(statuses(chat)).toEqual(["sent"]);
  });

  it("queues sends while the server cannot be reached and sends them once, in order", async () => {
    const server = pair(HTTP_ONLY);
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    server.httpMode = "unreachable";
    for (const text of ["a", "b", "c"]) await chat.send(text);
    await advance(30_000);
    expect(statuses(chat)).toEqual(["sending", "sending", "sending"]);
    server.httpMode = "accept";
    await advance(3_000);
    expect(statuses(chat)).toEqual(["sent", "sent", "sent"]);
    expect(server.messages.get("c1")?.map((m) => m.body)).toEqual(["a", "b", "c"]);
  });
});

describe("a token refused over HTTP", () => {
  it("is the client's AuthError, the state disconnected, and sends wait for a fresh token uncounted", async () => {
    const server = pair(HTTP_ONLY);
    let token = jwt("alice");
    const client = await startClient(server, "alice", { tokenProvider: () => token });
    const chat = await client.open("c1");
    const errors: Error[] = [];
    client.onError((e) => errors.push(e));
    token = "expired"; // the fake answers 401 to a token it cannot read
    await chat.send("waits for a good token");
    await advance(30_000);
    expect(client.state).toBe("disconnected");
    expect(client.lastError).toBeInstanceOf(AuthError);
    expect(errors.length).toBeGreaterThan(0);
    expect(statuses(chat)).toEqual(["sending"]);

    token = jwt("alice");
    await advance(30_000);
    expect(statuses(chat)).toEqual(["sent"]);
    expect(client.state).toBe("connected");
    expect(client.lastError).toBeNull();
  });

  it("reads the code the server put first in the message", () => {
    const expired = authErrorFromHttp(new HttpError(401, "unauthenticated", "auth_expired: the token has expired"));
    expect([expired?.code, expired?.message]).toEqual(["auth_expired", "the token has expired"]);
    expect(authErrorFromHttp(new HttpError(401, "unauthenticated", "missing bearer token"))?.code).toBe("auth_missing");
    expect(authErrorFromHttp(new HttpError(403, "forbidden", "not a member"))).toBeNull();
  });
});

describe("a long poll interval", () => {
  it("never turns an unreachable server into failed sends: the wait between attempts is outside the ack timeout", async () => {
    const server = pair(HTTP_ONLY, 20_000);
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    server.httpMode = "unreachable";
    await chat.send("patient");
    await advance(5 * 60_000);
    expect(statuses(chat)).toEqual(["sending"]);
    server.httpMode = "accept";
    await advance(20_000);
    expect(statuses(chat)).toEqual(["sent"]);
  });
});

describe("presence and typing", () => {
  it("takes online flags from polling in http presence mode and ignores the socket's", async () => {
    const server = pair({ presence: "http" });
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    expect(chat.onlineUsers).toEqual(["alice"]);
    server.online.add("bob");
    server.emit("user:offline", { conversationId: "c1", userId: "alice", at: "" }); // ignored
    await advance(3_000);
    expect(chat.onlineUsers).toEqual(["alice", "bob"]);
  });

  it("sends and shows no typing when typing is off", async () => {
    const server = pair({ typing: "off" });
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    chat.keystroke();
    server.emit("typing:start", { conversationId: "c1", userId: "bob" });
    await settle();
    expect(socketEvents(server, "typing:start")).toBe(0);
    expect(chat.snapshot().typingUsers).toEqual([]);
  });
});

describe("switching mid-session", () => {
  it("moves messages from socket to HTTP and back, losing and doubling nothing", async () => {
    const server = pair();
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    await chat.send("1 socket");
    server.emit("message:new", { message: server.store("c1", "bob", "2 socket") });
    await settle();

    allow(server, { messages: "http" }); // the operator rolls messages back
    await client.refreshConfig();
    expect(client.modes.messages).toBe("http");
    await chat.send("3 http");
    await settle();
    server.store("c1", "bob", "4 http, polled"); // no socket event: it must come from polling
    await advance(3_000);
    expect(bodies(chat)).toEqual(["1 socket", "2 socket", "3 http", "4 http, polled"]);

    allow(server, {});
    server.drop(); // the next connect reads the config again
    server.store("c1", "bob", "5 while switching");
    await advance(1_000);
    expect(client.modes.messages).toBe("socket");
    await chat.send("6 socket");
    await settle();
    expect(bodies(chat)).toEqual(["1 socket", "2 socket", "3 http", "4 http, polled", "5 while switching", "6 socket"]);
    expect(chat.messages().map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(statuses(chat).every((s) => s !== "sending" && s !== "failed")).toBe(true);
    expect(socketEvents(server, "message:send")).toBe(2);
    expect(socketEvents(server, "http:POST messages")).toBe(1);
  });

  it("repeats over HTTP, with the same key, a send whose socket ack was lost when the mode flipped", async () => {
    const server = pair();
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    server.handle("message:send", (payload, socket) => {
      server.store("c1", socket.userId, String(payload["body"]), String(payload["clientMessageId"]));
      return NO_ANSWER; // stored, but the ack is lost
    });
    const sent = await chat.send("once");
    await settle();
    allow(server, { messages: "http" });
    await client.refreshConfig();
    await advance(5_000 + 1_000); // the socket attempt times out; the retry goes over HTTP
    expect(server.received.filter((r) => r.event === "http:POST messages").map((r) => r.payload["clientMessageId"])).toEqual([
      sent.clientMessageId,
    ]);
    expect(server.messages.get("c1")).toHaveLength(1);
    expect(bodies(chat)).toEqual(["once"]);
    expect(statuses(chat)).toEqual(["sent"]);
  });

  it("turns typing off at once when the server does", async () => {
    const server = pair();
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    chat.keystroke();
    server.emit("typing:start", { conversationId: "c1", userId: "bob" });
    await settle();
    expect(chat.snapshot().typingUsers).toEqual(["bob"]);
    allow(server, { typing: "off" });
    await client.refreshConfig();
    expect(chat.snapshot().typingUsers).toEqual([]);
    expect(socketEvents(server, "typing:stop")).toBe(1);
  });
});

describe("a socket that cannot be opened", () => {
  it("keeps working over HTTP polling, and goes back to the socket once it opens", async () => {
    const server = pair();
    server.mode = "unreachable"; // WebSocket and long-polling blocked; the HTTP API answers
    server.httpMode = "accept";
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    expect(client.modes).toEqual(HTTP_ONLY);
    expect(client.state).toBe("connected");
    await chat.send("sent while the socket is blocked");
    await settle();
    server.store("c1", "bob", "received by polling");
    await advance(3_000);
    expect(statuses(chat)).toEqual(["sent", "sent"]);
    expect(bodies(chat)).toEqual(["sent while the socket is blocked", "received by polling"]);

    server.mode = "accept";
    await advance(8_000); // the socket's backoff: 1, 2, 4 s
    expect(client.modes).toEqual({ messages: "socket", typing: "socket", presence: "socket" });
    expect(chat.joined).toBe(true);
    await chat.send("back on the socket");
    await settle();
    expect(socketEvents(server, "message:send")).toBe(1);
    expect(chat.messages().map((m) => m.seq)).toEqual([1, 2, 3]);
  });
});
