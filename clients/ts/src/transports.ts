/**
 * The engine.io transports the SDK hands to socket.io-client: the platform's own (the `ws`
 * package on Node; the browser's or React Native's `WebSocket` and XHR, which bundlers pick
 * through engine.io-client's `browser` field), with one repair.
 *
 * engine.io-client 6.6 opens a transport before it listens to it, so when the `WebSocket`
 * constructor throws at once (a runtime or page that forbids WebSocket), the error is emitted
 * to nobody and the attempt hangs until its timeout, every time: `tryAllTransports` never
 * moves on to long-polling. {@link FallibleWebSocket} emits that error again as soon as
 * engine.io listens, so the fallback happens at once. It uses only the public extension
 * point (`transports` given as classes; `createSocket` and `onError` are part of the typed API);
 * `test/transports.test.ts` notices if upstream changes the behaviour this relies on.
 */

// From engine.io-client itself: socket.io-client's CommonJS build (what Jest, and so every
// React Native app's tests, load) replaces its exports by `lookup` and drops these two.
import { NodeWebSocket, NodeXHR } from "engine.io-client";

import type { Transport } from "./connection.js";

export class FallibleWebSocket extends NodeWebSocket {
  override createSocket(uri: string, protocols: string | string[] | undefined, opts: Record<string, unknown>): unknown {
    try {
      return super.createSocket(uri, protocols, opts) as unknown;
    } catch (error) {
      // A microtask: it runs once the synchronous open() that called this has returned and
      // engine.io has attached its listeners (setTransport, right after).
      void Promise.resolve().then(() => this.onError("websocket error", error));
      throw error;
    }
  }
}

const IMPLEMENTATIONS = { websocket: FallibleWebSocket, polling: NodeXHR } as const;

/** The transport classes for `names`, in order. */
export function transportClasses(names: readonly Transport[]): Array<(typeof IMPLEMENTATIONS)[Transport]> {
  return names.map((name) => IMPLEMENTATIONS[name]);
}
