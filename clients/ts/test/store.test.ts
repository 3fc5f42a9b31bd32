/** The merge rules of PROTOCOL §6, without a connection. */

import { describe, expect, it } from "vitest";

import type { LocalMessage, WireMessage } from "../src/models.js";
import { ConversationStore } from "../src/store.js";
import { encodeText } from "../src/text.js";

function wire(seq: number, senderId = "bob", clientMessageId = `k${seq}`): WireMessage {
  return {
    id: `m${seq}`,
    conversationId: "c1",
    senderId,
    clientMessageId,
    body: `body ${seq}`,
    seq,
    createdAt: "2026-11-26T09:41:07.123Z",
  };
}

function local(clientMessageId: string, text: string): LocalMessage {
  const nothing = { id: null, seq: null, createdAt: null, error: null };
  const body = encodeText(text);
  return { conversationId: "c1", clientMessageId, senderId: "alice", body, text, status: "sending", ...nothing };
}

describe("ConversationStore", () => {
  it("orders by seq whatever the arrival order and tracks the gap-free prefix", () => {
    const store = new ConversationStore("c1", "alice");
    for (const seq of [3, 1, 5, 2]) store.merge(wire(seq));
    expect(store.messages().map((m) => m.seq)).toEqual([1, 2, 3, 5]);
    expect(store.contiguousSeq).toBe(3);
    expect(store.lastSeq).toBe(5);
    store.merge(wire(4));
    expect(store.contiguousSeq).toBe(5);
  });

  it("ignores a message it holds (same id)", () => {
    const store = new ConversationStore("c1", "alice");
    const first = store.merge(wire(1));
    expect(store.merge(wire(1))).toBe(first);
    expect(store.size).toBe(1);
  });

  it("replaces an optimistic message with the server's, by clientMessageId, keeping pending ones last", () => {
    const store = new ConversationStore("c1", "alice");
    store.addLocal(local("a", "mine"));
    store.addLocal(local("b", "mine too"));
    store.merge(wire(1));
    expect(store.messages().map((m) => m.body)).toEqual(["body 1", "mine", "mine too"]);
    const confirmed = store.merge({ ...wire(2, "alice", "a"), body: "mine" });
    expect(confirmed.status).toBe("sent");
    expect(store.messages().map((m) => [m.body, m.seq])).toEqual([
      ["body 1", 1],
      ["mine", 2],
      ["mine too", null],
    ]);
    expect(store.pending("a")).toBeUndefined();
  });

  it("does not take another user's message for an optimistic one with the same key", () => {
    const store = new ConversationStore("c1", "alice");
    store.addLocal(local("same", "mine"));
    store.merge(wire(1, "bob", "same"));
    expect(store.pending("same")).toBeDefined();
    expect(store.size).toBe(2);
  });

  it("keeps the body as the server stored it (escaped) and gives its text (decoded)", () => {
    const store = new ConversationStore("c1", "alice");
    store.addLocal(local("a", "if a<b then swap"));
    expect(store.pending("a")?.body).toBe("if a&lt;b then swap");
    const stored = store.confirm("a", { ...wire(1, "alice", "a"), body: "if a&lt;b then swap &amp;lt;" });
    expect([stored.body, stored.text]).toEqual(["if a&lt;b then swap &amp;lt;", "if a<b then swap &lt;"]);
    expect(store.merge({ ...wire(2), body: "AT&amp;T &gt; 3" }).text).toBe("AT&T > 3");
  });

  it("stays fast with 10,000 messages", () => {
    const store = new ConversationStore("c1", "alice");
    const started = Date.now();
    for (let seq = 1; seq <= 10_000; seq += 1) store.merge(wire(seq));
    expect(store.contiguousSeq).toBe(10_000);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
