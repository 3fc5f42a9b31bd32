/** PROTOCOL §6 "sync" and "receipts"; REQUIREMENTS 2.7, 2.10.1. */

import { describe, expect, it } from "vitest";

import { FakeServer } from "./fakes.js";
import { advance, bodies, settle, startClient, useFakeTime } from "./helpers.js";

useFakeTime();

function syncs(server: FakeServer): number[] {
  return server.received.filter((r) => r.event === "messages:sync").map((r) => Number(r.payload["afterSeq"]));
}

function receipts(server: FakeServer, event: string): number[] {
  return server.received.filter((r) => r.event === event).map((r) => Number(r.payload["upToSeq"]));
}

describe("sync", () => {
  it("joins and fetches history on open, then after every reconnect from the last seq held", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    server.store("c1", "bob", "one");
    server.store("c1", "bob", "two");
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    expect(bodies(chat)).toEqual(["one", "two"]);
    expect(chat.joined).toBe(true);

    server.drop();
    await settle();
    expect(chat.joined).toBe(false);
    server.store("c1", "bob", "three, while alice was away");
    await advance(1_000);
    expect(bodies(chat)).toEqual(["one", "two", "three, while alice was away"]);
    expect(syncs(server)).toEqual([0, 2]);
    expect(server.received.filter((r) => r.event === "conversation:join")).toHaveLength(2);
  });

  it("rejoins after the wait a rate-limited join asked for, not only at the next reconnect", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    let refusals = 1;
    const real = new FakeServer();
    real.conversation("c1", "alice", "bob");
    server.handle("conversation:join", (payload, socket) =>
      refusals-- > 0
        ? { ok: false, error: { code: "rate_limited", message: "slow down", retryAfterMs: 700 } }
        : real.dispatch("conversation:join", payload, socket),
    );
    server.drop();
    await advance(1_000); // reconnected; its join refused
    expect(chat.joined).toBe(false);
    await advance(699);
    expect(chat.joined).toBe(false);
    await advance(1);
    await settle();
    expect(chat.joined).toBe(true);
    expect(server.received.filter((r) => r.event === "conversation:join")).toHaveLength(3);
  });

  it("pages through long histories", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    for (let i = 1; i <= 1_201; i += 1) server.store("c1", "bob", `m${i}`);
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    expect(chat.store.contiguousSeq).toBe(1_201);
    expect(syncs(server)).toEqual([0, 500, 1_000]);
  });

  it("fetches what a message:new skipped", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    const one = server.store("c1", "bob", "one");
    server.store("c1", "bob", "two (its event was lost)");
    const three = server.store("c1", "bob", "three");
    server.emit("message:new", { message: one });
    server.emit("message:new", { message: three });
    await settle();
    expect(bodies(chat)).toEqual(["one", "two (its event was lost)", "three"]);
    expect(syncs(server)).toEqual([0, 1]);
  });

  it("checks its position every 30 s (a lost last message shows up)", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    server.store("c1", "bob", "its event was lost");
    await advance(29_999);
    expect(bodies(chat)).toEqual([]);
    await advance(1);
    expect(bodies(chat)).toEqual(["its event was lost"]);
  });

  it("merges by clientMessageId, dedupes by id and orders by seq", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    server.handle("message:send", () => new Promise(() => undefined)); // the ack never comes back
    const mine = await chat.send("mine");
    const theirs = server.store("c1", "bob", "theirs");
    const stored = server.store("c1", "alice", "mine", mine.clientMessageId);
    server.emit("message:new", { message: stored }); // my own message, from another path
    server.emit("message:new", { message: theirs }); // out of order
    server.emit("message:new", { message: theirs }); // twice
    await settle();
    expect(bodies(chat)).toEqual(["theirs", "mine"]);
    expect(chat.messages().map((m) => [m.seq, m.status])).toEqual([
      [1, "sent"],
      [2, "sent"],
    ]);
  });

  it("sends message:delivered for what arrives and message:read when asked", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    server.store("c1", "bob", "one");
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    await settle();
    expect(receipts(server, "message:delivered")).toEqual([1]);
    server.emit("message:new", { message: server.store("c1", "bob", "two") });
    await settle();
    expect(receipts(server, "message:delivered")).toEqual([1, 2]);
    expect(chat.snapshot().unread).toBe(2);

    await chat.markRead();
    await chat.markRead(); // nothing new: not sent again
    expect(receipts(server, "message:read")).toEqual([2]);
    expect(chat.snapshot().unread).toBe(0);
  });

  it("leaves a conversation: conversation:leave, and no rejoin after a reconnect", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    server.handle("conversation:leave", () => ({ ok: true }));
    const client = await startClient(server, "alice");
    await client.open("c1");
    await client.leave("c1");
    expect(server.received.filter((r) => r.event === "conversation:leave")).toHaveLength(1);
    expect(client.conversations.has("c1")).toBe(false);
    server.drop();
    await advance(1_000);
    expect(client.state).toBe("connected");
    expect(server.received.filter((r) => r.event === "conversation:join")).toHaveLength(1);
  });
});
