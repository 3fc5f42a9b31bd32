/** The React entry point: useConversation re-renders on every change and sends through the SDK. */

import { createElement, act } from "react";
import TestRenderer from "react-test-renderer";
import { describe, expect, it } from "vitest";

import type { ParleyClient } from "../src/client.js";
import { type ConversationView, useConnectionState, useConversation } from "../src/react.js";
import { FakeServer } from "./fakes.js";
import { settle, startClient, useFakeTime } from "./helpers.js";

useFakeTime();

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

// react-test-renderer still works on React 19 but says, once, that it is deprecated; the SDK
// does not depend on it (the chat page's browser tests exercise the hook in react-dom).
const console = (globalThis as unknown as { console: { error(...args: unknown[]): void } }).console;
const consoleError = console.error.bind(console);
console.error = (...args: unknown[]) => {
  if (!String(args[0]).includes("react-test-renderer is deprecated")) consoleError(...args);
};

function Probe(props: { client: ParleyClient; seen: ConversationView[]; states: string[] }): null {
  props.seen.push(useConversation(props.client, "c1"));
  props.states.push(useConnectionState(props.client));
  return null;
}

describe("useConversation", () => {
  it("renders messages, statuses, presence and typing as they change", async () => {
    const server = new FakeServer();
    server.conversation("c1", "alice", "bob");
    server.store("c1", "bob", "hello alice");
    const client = await startClient(server, "alice");
    const seen: ConversationView[] = [];
    const states: string[] = [];
    let renderer: TestRenderer.ReactTestRenderer | undefined;
    await act(async () => {
      renderer = TestRenderer.create(createElement(Probe, { client, seen, states }));
      await settle();
    });
    expect(seen.at(-1)?.messages.map((m) => m.body)).toEqual(["hello alice"]);

    await act(async () => {
      await seen.at(-1)?.send("hi bob");
      await settle();
    });
    expect(seen.at(-1)?.messages.map((m) => [m.body, m.status])).toEqual([
      ["hello alice", "sent"],
      ["hi bob", "sent"],
    ]);

    await act(async () => {
      server.emit("typing:start", { conversationId: "c1", userId: "bob" });
      server.emit("user:online", { conversationId: "c1", userId: "bob", at: "x" });
      server.emit("message:read", { conversationId: "c1", userId: "bob", upToSeq: 2, at: "x" });
      await settle();
    });
    const last = seen.at(-1);
    expect(last?.typingUsers).toEqual(["bob"]);
    expect(last?.onlineUsers).toContain("bob");
    expect(last?.messages.at(-1)?.status).toBe("read");

    await act(async () => {
      server.drop();
      await settle();
    });
    expect(states.at(-1)).toBe("disconnected");
    act(() => renderer?.unmount());
  });
});
