/** PROTOCOL §6 "ack wait", "retries", "offline", "optimistic"; REQUIREMENTS 2.3, 2.5, 2.6.3–4. */

import { describe, expect, it } from "vitest";

import type { ParleyError } from "../src/errors.js";
import { memoryStorage } from "../src/storage.js";
import { FakeServer, NO_ANSWER } from "./fakes.js";
import { advance, bodies, settle, startClient, statuses, useFakeTime } from "./helpers.js";

useFakeTime();

function pair(): FakeServer {
  const server = new FakeServer();
  server.conversation("c1", "alice", "bob");
  return server;
}

function sendTimes(server: FakeServer, start: number): number[] {
  return server.received.filter((r) => r.event === "message:send").map((r) => r.at - start);
}

describe("sending", () => {
  it("shows the message at once as sending, then sent with the server's id and seq", async () => {
    const server = pair();
    const client = await startClient(server, "alice");
    const chat = client.conversation("c1");
    await settle();
    const answered = chat.send("hello");
    expect(statuses(chat)).toEqual(["sending"]);
    const shown = await answered;
    await settle();
    const [message] = chat.messages();
    expect(message).toMatchObject({ body: "hello", status: "sent", seq: 1, id: "m1" });
    expect(message?.clientMessageId).toBe(shown.clientMessageId);
    expect(shown.clientMessageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("waits 5 s per attempt, retries after 1, 2, 4 s with the same key, then fails", async () => {
    const server = pair();
    server.handle("message:send", () => NO_ANSWER);
    const client = await startClient(server, "alice");
    const chat = client.conversation("c1");
    await settle();
    const start = Date.now();
    await chat.send("into the void");
    await advance(5_000 + 1_000 + 5_000 + 2_000 + 5_000 + 4_000 + 5_000 - 1);
    expect(statuses(chat)).toEqual(["sending"]);
    await advance(1);

    expect(sendTimes(server, start)).toEqual([0, 6_000, 13_000, 22_000]);
    expect(new Set(server.sends().map((p) => p["clientMessageId"])).size).toBe(1);
    const [failed] = chat.messages();
    expect(failed?.status).toBe("failed");
    expect(failed?.error?.code).toBe("unavailable");
  });

  it("retries a failed message by hand with its original key", async () => {
    const server = pair();
    server.handle("message:send", () => ({ ok: false, error: { code: "internal", message: "boom" } }));
    const client = await startClient(server, "alice");
    const chat = client.conversation("c1");
    await settle();
    const start = Date.now();
    const sent = await chat.send("again");
    await advance(1_000 + 2_000 + 4_000);
    expect(sendTimes(server, start)).toEqual([0, 1_000, 3_000, 7_000]);
    expect(statuses(chat)).toEqual(["failed"]);

    const fresh = new FakeServer();
    server.handle("message:send", (p, s) => fresh.dispatch("message:send", p, s));
    fresh.conversation("c1", "alice", "bob");
    await chat.retry(sent);
    expect(statuses(chat)).toEqual(["sending"]);
    await settle();
    expect(statuses(chat)).toEqual(["sent"]);
    expect(server.sends().at(-1)?.["clientMessageId"]).toBe(sent.clientMessageId);
  });

  it("sends a retried message as its text, never its escaped body", async () => {
    const server = pair();
    server.handle("message:send", () => ({ ok: false, error: { code: "internal", message: "boom" } }));
    const client = await startClient(server, "alice");
    const chat = client.conversation("c1");
    await settle();
    const sent = await chat.send("if a<b then &lt;swap&gt;");
    expect([sent.body, sent.text]).toEqual(["if a&lt;b then &amp;lt;swap&amp;gt;", "if a<b then &lt;swap&gt;"]);
    await advance(1_000 + 2_000 + 4_000);
    expect(statuses(chat)).toEqual(["failed"]);

    server.handle("message:send", () => NO_ANSWER);
    await chat.retry(sent);
    await settle();
    expect(server.sends().map((p) => p["body"])).toEqual(Array(5).fill("if a<b then &lt;swap&gt;"));
  });

  it("fails at once on a refusal that retrying cannot fix", async () => {
    const server = pair();
    server.handle("message:send", () => ({ ok: false, error: { code: "forbidden", message: "not a member" } }));
    const client = await startClient(server, "alice");
    const chat = client.conversation("c1");
    await settle();
    await chat.send("hi");
    await settle();
    const [message] = chat.messages();
    expect(message?.status).toBe("failed");
    expect((message?.error as ParleyError).code).toBe("forbidden");
    expect(server.sends()).toHaveLength(1);
  });

  it("waits retryAfterMs when rate limited, without counting it as a failure", async () => {
    const server = pair();
    let refusals = 6;
    const real = new FakeServer();
    real.conversation("c1", "alice", "bob");
    server.handle("message:send", (p, s) =>
      refusals-- > 0
        ? { ok: false, error: { code: "rate_limited", message: "slow down", retryAfterMs: 300 } }
        : real.dispatch("message:send", p, s),
    );
    const client = await startClient(server, "alice");
    const chat = client.conversation("c1");
    await settle();
    const start = Date.now();
    await chat.send("patience");
    await advance(6 * 300);
    expect(sendTimes(server, start)).toEqual([0, 300, 600, 900, 1_200, 1_500, 1_800]);
    expect(statuses(chat)).toEqual(["sent"]);
  });

  it("queues sends made offline, in order, and delivers each once after reconnect", async () => {
    const server = pair();
    const client = await startClient(server, "alice");
    const chat = client.conversation("c1");
    await settle();
    server.drop();
    server.mode = "unreachable";
    await settle();
    for (const body of ["one", "two", "three"]) await chat.send(body);
    await advance(60_000); // a minute offline: no retry budget is spent
    expect(statuses(chat)).toEqual(["sending", "sending", "sending"]);
    expect(client.queued).toBe(3);

    server.mode = "accept";
    await advance(30_000);
    expect(bodies(chat)).toEqual(["one", "two", "three"]);
    expect(statuses(chat)).toEqual(["sent", "sent", "sent"]);
    expect(server.messages.get("c1")?.map((m) => m.body)).toEqual(["one", "two", "three"]);
    expect(client.queued).toBe(0);
  });

  it("sends again after a link that dropped before the ack, stored once", async () => {
    const server = pair();
    const inner = new FakeServer();
    inner.conversation("c1", "alice", "bob");
    let first = true;
    server.handle("message:send", (p, s) => {
      const answer = inner.dispatch("message:send", p, s); // stored ...
      if (first) {
        first = false;
        server.drop(); // ... but the ack is lost with the link
        return NO_ANSWER;
      }
      return answer;
    });
    const client = await startClient(server, "alice");
    const chat = client.conversation("c1");
    await settle();
    await chat.send("exactly once");
    await settle();
    expect(client.state).toBe("disconnected");
    await advance(1_000);
    expect(statuses(chat)).toEqual(["sent"]);
    expect(inner.messages.get("c1")).toHaveLength(1);
    expect(server.sends()).toHaveLength(2);
  });

  it("keeps the queue in storage: a restarted app sends what was left", async () => {
    const storage = memoryStorage();
    const server = pair();
    server.mode = "unreachable";
    const first = await startClient(server, "alice", { storage });
    await first.conversation("c1").send("survives a restart");
    const closing = first.close();
    await settle();
    await closing;
    expect(await storage.getItem("parley.outbox.alice")).toContain("survives a restart");

    server.mode = "accept";
    const second = await startClient(server, "alice", { storage });
    const chat = second.conversation("c1");
    expect(bodies(chat)).toEqual(["survives a restart"]);
    await settle();
    expect(statuses(chat)).toEqual(["sent"]);
    expect(await storage.getItem("parley.outbox.alice")).toBeNull();
  });
});
