/** PROTOCOL §6 "typing"; REQUIREMENTS 2.8. */

import { describe, expect, it } from "vitest";

import { FakeServer } from "./fakes.js";
import { advance, settle, startClient, useFakeTime } from "./helpers.js";

useFakeTime();

function typingEvents(server: FakeServer, start: number): Array<[string, number]> {
  return server.received.filter((r) => r.event.startsWith("typing:")).map((r) => [r.event, r.at - start]);
}

async function setUp(): Promise<{ server: FakeServer; chat: Awaited<ReturnType<typeof open>> }> {
  const server = new FakeServer();
  server.conversation("c1", "alice", "bob");
  const chat = await open(server);
  return { server, chat };
}

async function open(server: FakeServer) {
  const client = await startClient(server, "alice");
  return client.open("c1");
}

describe("typing, sent", () => {
  it("starts on the first keystroke and stops after 2 s without one", async () => {
    const { server, chat } = await setUp();
    const start = Date.now();
    chat.keystroke();
    await advance(500);
    chat.keystroke();
    await advance(1_000);
    chat.keystroke();
    await advance(1_999);
    expect(typingEvents(server, start)).toEqual([["typing:start", 0]]);
    await advance(1);
    expect(typingEvents(server, start)).toEqual([
      ["typing:start", 0],
      ["typing:stop", 3_500],
    ]);
  });

  it("stops on send", async () => {
    const { server, chat } = await setUp();
    const start = Date.now();
    chat.keystroke();
    await advance(300);
    await chat.send("done");
    await advance(5_000);
    expect(typingEvents(server, start)).toEqual([
      ["typing:start", 0],
      ["typing:stop", 300],
    ]);
  });

  it("repeats typing:start every 3 s while typing goes on (PROTOCOL §6)", async () => {
    const { server, chat } = await setUp();
    const start = Date.now();
    for (let t = 0; t < 9_000; t += 500) {
      chat.keystroke();
      await advance(500);
    }
    await advance(2_000);
    expect(typingEvents(server, start)).toEqual([
      ["typing:start", 0],
      ["typing:start", 3_000],
      ["typing:start", 6_000],
      ["typing:stop", 10_500],
    ]);
  });

  it("does not repeat typing:start more often than every 3 s, however fast the keys", async () => {
    const { server, chat } = await setUp();
    const start = Date.now();
    for (let t = 0; t < 6_500; t += 50) {
      chat.keystroke();
      await advance(50);
    }
    const starts = typingEvents(server, start).filter(([event]) => event === "typing:start");
    expect(starts).toEqual([
      ["typing:start", 0],
      ["typing:start", 3_000],
      ["typing:start", 6_000],
    ]);
  });
});

describe("typing, shown", () => {
  it("shows others until their typing:stop", async () => {
    const { server, chat } = await setUp();
    server.emit("typing:start", { conversationId: "c1", userId: "bob" });
    await settle();
    expect(chat.snapshot().typingUsers).toEqual(["bob"]);
    server.emit("typing:stop", { conversationId: "c1", userId: "bob" });
    await settle();
    expect(chat.snapshot().typingUsers).toEqual([]);
  });

  it("hides an indicator after 6 s of silence; a new start restarts the 6 s", async () => {
    const { server, chat } = await setUp();
    server.emit("typing:start", { conversationId: "c1", userId: "bob" });
    await advance(4_000);
    server.emit("typing:start", { conversationId: "c1", userId: "bob" });
    await advance(5_999);
    expect(chat.snapshot().typingUsers).toEqual(["bob"]);
    await advance(1);
    expect(chat.snapshot().typingUsers).toEqual([]);
  });

  it("never shows one's own", async () => {
    const { server, chat } = await setUp();
    server.emit("typing:start", { conversationId: "c1", userId: "alice" });
    await settle();
    expect(chat.snapshot().typingUsers).toEqual([]);
  });

  it("forgets who was typing when the link drops", async () => {
    const { server, chat } = await setUp();
    server.emit("typing:start", { conversationId: "c1", userId: "bob" });
    await settle();
    server.drop();
    await settle();
    expect(chat.snapshot().typingUsers).toEqual([]);
  });
});
