/**
 * The WebSocket transport's repair (src/transports.ts) against the real socket.io-client and
 * engine.io-client: a constructor that throws at once moves the attempt on to long-polling.
 * The second test pins the upstream behaviour that makes the repair necessary: should it fail,
 * engine.io-client handles the throw itself now, and the repair can go.
 */

import { NodeWebSocket, NodeXHR, type Socket, io } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";

import { FallibleWebSocket } from "../src/transports.js";

const opened: Socket[] = [];

// An invalid subprotocol makes the `ws` package's constructor throw synchronously, as a
// browser's WebSocket does where it is forbidden. Port 9 (discard) is never listened on here.
function attempt(websocket: typeof NodeWebSocket): Socket {
  const socket = io("http://127.0.0.1:9", {
    transports: [websocket, NodeXHR],
    tryAllTransports: true,
    protocols: ["not a token"],
    reconnection: false,
    autoConnect: false,
    forceNew: true,
    timeout: 60_000,
  });
  opened.push(socket);
  socket.connect();
  return socket;
}

async function turn(): Promise<void> {
  for (let i = 0; i < 10; i += 1) await Promise.resolve(); // the repair re-emits in a microtask
}

afterEach(() => {
  for (const socket of opened.splice(0)) socket.disconnect();
});

describe("FallibleWebSocket", () => {
  it("moves on to long-polling at once when the WebSocket constructor throws", async () => {
    const socket = attempt(FallibleWebSocket);
    await turn();
    expect(socket.io.engine.transport.name).toBe("polling");
  });

  it("is needed: upstream's own transport stays stuck on the WebSocket that never was", async () => {
    let threw = false;
    class Recorded extends NodeWebSocket {
      override createSocket(uri: string, protocols: string | string[] | undefined, opts: Record<string, unknown>): unknown {
        try {
          return super.createSocket(uri, protocols, opts) as unknown;
        } catch (error) {
          threw = true;
          throw error;
        }
      }
    }
    const socket = attempt(Recorded);
    await turn();
    expect(threw).toBe(true);
    expect(socket.io.engine.transport.name).toBe("websocket");
  });
});
