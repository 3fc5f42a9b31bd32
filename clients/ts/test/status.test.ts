/** PROTOCOL §4.4, §4.6: presence and the ticks of a message as its sender sees them. */

import { describe, expect, it } from "vitest";

import { FakeServer } from "./fakes.js";
import { settle, startClient, statuses, useFakeTime } from "./helpers.js";

useFakeTime();

const at = "2026-11-26T09:41:07.123Z";

describe("message status", () => {
  it("goes sent, delivered, read as every other member's watermark passes it", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob", "carol");
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    await chat.send("hi all");
    await settle();
    expect(statuses(chat)).toEqual(["sent"]);

    const receipt = (event: string, userId: string): void =>
      server.emit(event, { conversationId: "c1", userId, upToSeq: 1, at });
    receipt("message:delivered", "bob");
    await settle();
    expect(statuses(chat)).toEqual(["sent"]); // carol has not got it yet
    receipt("message:delivered", "carol");
    await settle();
    expect(statuses(chat)).toEqual(["delivered"]);
    receipt("message:read", "bob");
    await settle();
    expect(statuses(chat)).toEqual(["delivered"]);
    receipt("message:read", "carol");
    await settle();
    expect(statuses(chat)).toEqual(["read"]);
  });

  it("starts from the watermarks in the join snapshot; others' messages are just sent", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    server.store("c1", "alice", "earlier");
    server.store("c1", "bob", "reply");
    const bob = server.members.get("c1")?.get("bob");
    if (bob) bob.lastReadSeq = bob.lastDeliveredSeq = 1;
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    expect(statuses(chat)).toEqual(["read", "sent"]);
  });
});

describe("presence", () => {
  it("follows user:online and user:offline, and counts nobody online while disconnected", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    expect(chat.snapshot().onlineUsers).toEqual(["alice"]);
    server.emit("user:online", { conversationId: "c1", userId: "bob", at });
    await settle();
    expect(chat.snapshot().onlineUsers).toEqual(["alice", "bob"]);
    server.emit("user:offline", { conversationId: "c1", userId: "bob", at });
    await settle();
    expect(chat.snapshot().onlineUsers).toEqual(["alice"]);
    server.drop();
    await settle();
    expect(chat.snapshot().onlineUsers).toEqual([]);
  });

  it("snapshots keep their identity until something changes", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    const client = await startClient(server, "alice");
    const chat = await client.open("c1");
    const first = chat.snapshot();
    expect(chat.snapshot()).toBe(first);
    server.emit("user:online", { conversationId: "c1", userId: "bob", at });
    await settle();
    expect(chat.snapshot()).not.toBe(first);
  });
});
