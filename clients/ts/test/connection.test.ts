/** PROTOCOL §6 "reconnect" and "state", REQUIREMENTS 2.2, 2.6: on fake timers. */

import { describe, expect, it, vi } from "vitest";

import { AuthError, ConnectError } from "../src/errors.js";
import type { ConnectionState } from "../src/models.js";
import type { NetworkStatus } from "../src/network.js";
import { FakeServer, jwt } from "./fakes.js";
import { advance, settle, startClient, useFakeTime } from "./helpers.js";

useFakeTime();

function attemptTimes(server: FakeServer, start: number): number[] {
  return server.sockets.map((s) => (s as unknown as { at: number }).at - start);
}

function stampAttempts(server: FakeServer): void {
  const factory = server.factory;
  (server as { factory: typeof factory }).factory = (url, options) =>
    Object.assign(factory(url, options), { at: Date.now() });
}

describe("connection", () => {
  it("connects and reports connecting, then connected", async () => {
    const server = new FakeServer();
    const states: ConnectionState[] = [];
    const client = await startClient(server, "alice", {});
    expect(client.state).toBe("connected");
    client.onStateChange((s) => states.push(s));
    server.drop();
    await settle();
    expect(states).toEqual(["disconnected"]);
    await advance(1_000);
    expect(states).toEqual(["disconnected", "connecting", "connected"]);
    expect(client.userId).toBe("alice");
  });

  it("asks the token provider before every attempt", async () => {
    const server = new FakeServer();
    let issued = 0;
    const tokenProvider = vi.fn(() => jwt(`alice`, 1_000 + ++issued));
    await startClient(server, "alice", { tokenProvider });
    server.drop();
    await advance(1_000);
    server.drop();
    await advance(1_000);
    const tokens = server.handshakes.map((h) => h["token"]);
    expect(tokens).toHaveLength(3);
    expect(new Set(tokens).size).toBe(3);
  });

  it("retries after 1, 2, 4, 8, 16, 30, 30 s while the server is unreachable", async () => {
    const server = new FakeServer();
    server.mode = "unreachable";
    stampAttempts(server);
    const start = Date.now();
    const client = await startClient(server, "alice");
    await advance(1_000 + 2_000 + 4_000 + 8_000 + 16_000 + 30_000 + 30_000);
    expect(attemptTimes(server, start)).toEqual([0, 1_000, 3_000, 7_000, 15_000, 31_000, 61_000, 91_000]);
    expect(client.state).toBe("disconnected");
    expect(client.lastError).toBeInstanceOf(ConnectError);

    server.mode = "accept";
    await advance(30_000);
    expect(client.state).toBe("connected");
    expect(client.lastError).toBeNull();
  });

  it("jitters the waits within ±50%", async () => {
    const server = new FakeServer();
    server.mode = "unreachable";
    stampAttempts(server);
    const start = Date.now();
    await startClient(server, "alice", { random: () => 0 });
    await advance(500 + 1_000 + 2_000);
    expect(attemptTimes(server, start)).toEqual([0, 500, 1_500, 3_500]);
  });

  it("gives up on an attempt that gets no answer in 5 s", async () => {
    const server = new FakeServer();
    server.mode = "silent";
    server.httpMode = "unreachable"; // nor can HTTP be used instead
    stampAttempts(server);
    const start = Date.now();
    const client = await startClient(server, "alice");
    expect(client.state).toBe("connecting");
    await advance(4_999);
    expect(server.sockets).toHaveLength(1);
    await advance(1);
    expect(client.state).toBe("disconnected");
    await advance(1_000);
    expect(attemptTimes(server, start)).toEqual([0, 6_000]);
  });

  it("reports a refused token as AuthError and tries again with a fresh one", async () => {
    const server = new FakeServer();
    server.mode = "refuse";
    const errors: Error[] = [];
    const client = await startClient(server, "alice");
    client.onError((e) => errors.push(e));
    expect(client.lastError).toBeInstanceOf(AuthError);
    expect((client.lastError as AuthError).code).toBe("auth_expired");
    expect(client.lastError?.message).toBe("the token has expired");

    server.mode = "accept";
    await advance(1_000);
    expect(client.state).toBe("connected");
    expect(server.handshakes).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  it("after a lost link waits 1 s, and the backoff starts over once connected", async () => {
    const server = new FakeServer();
    stampAttempts(server);
    const start = Date.now();
    await startClient(server, "alice");
    server.drop();
    server.mode = "unreachable";
    await advance(1_000 + 2_000);
    server.mode = "accept";
    await advance(4_000);
    server.drop();
    await advance(1_000);
    expect(attemptTimes(server, start)).toEqual([0, 1_000, 3_000, 7_000, 8_000]);
  });

  it("drops the link at once when the device goes offline and reconnects when it is back", async () => {
    const server = new FakeServer();
    let online = true;
    const listeners = new Set<(online: boolean) => void>();
    const network: NetworkStatus = {
      isOnline: () => online,
      subscribe: (l) => {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    const setOnline = (value: boolean): void => {
      online = value;
      for (const l of listeners) l(value);
    };
    const client = await startClient(server, "alice", { network });
    setOnline(false);
    await settle();
    expect(client.state).toBe("disconnected");
    await advance(120_000);
    expect(server.sockets).toHaveLength(1); // no attempt while offline

    setOnline(true);
    await settle();
    expect(client.state).toBe("connected");
    expect(server.sockets).toHaveLength(2);
  });

  it("reconnectNow skips the backoff", async () => {
    const server = new FakeServer();
    server.mode = "unreachable";
    const client = await startClient(server, "alice");
    await advance(1_000 + 2_000);
    server.mode = "accept";
    client.reconnectNow();
    await settle();
    expect(client.state).toBe("connected");
  });

  it("closes at once, even in the middle of an attempt", async () => {
    const server = new FakeServer();
    server.mode = "silent";
    const client = await startClient(server, "alice");
    let closed = false;
    void client.close().then(() => (closed = true));
    await settle();
    expect(closed).toBe(true);
    expect(client.state).toBe("disconnected");
  });

  it("sends the device id with the token", async () => {
    const server = new FakeServer();
    await startClient(server, "alice", { deviceId: "phone-1" });
    expect(server.handshakes[0]).toEqual({ token: jwt("alice"), deviceId: "phone-1" });
  });
});
