/**
 * The two ways messages travel (PROTOCOL §7): over the Socket.IO connection or over HTTP.
 *
 * Both answer in the socket's terms (an ack `{ok, ...}`, {@link NotConnected} when the link
 * is not there), so the sender, the sync and the receipts keep one set of rules whatever
 * the mode: same `clientMessageId`, same retries, same outbox. {@link MessageRoute} picks
 * the channel for each attempt, so a mode switched mid-send takes effect at the next attempt.
 */

import { REQUEST_TIMEOUT_MS } from "./backoff.js";
import type { MessagesMode } from "./config.js";
import type { Connection } from "./connection.js";
import { type AuthError, ClientClosed, HttpError, NotConnected, authErrorFromHttp, errorFromAck, isRecord } from "./errors.js";
import type { ParleyHttp } from "./http.js";
import type { WireMessage } from "./models.js";
import type { NetworkStatus } from "./network.js";
import type { SendPort } from "./sender.js";
import { type Timers, pause, within } from "./timers.js";

export interface Page {
  messages: WireMessage[];
  hasMore: boolean;
}

/** Sync and receipts for one conversation at a time, over one transport. */
export interface MessagesChannel {
  /** Whether a request can be made now (the socket is connected; over HTTP: the device is online). */
  readonly available: boolean;
  page(conversationId: string, afterSeq: number): Promise<Page>;
  receipt(conversationId: string, kind: "delivered" | "read", upToSeq: number): Promise<void>;
}

type SocketCalls = Pick<Connection, "connected" | "call">;

/** `messages:sync`, `message:delivered`, `message:read` with acks. */
export function socketChannel(connection: SocketCalls, timers: Timers): MessagesChannel {
  const request = async (event: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const ack = await within(timers, REQUEST_TIMEOUT_MS, connection.call(event, payload));
    if (!isRecord(ack) || ack["ok"] !== true) throw errorFromAck(ack);
    return ack;
  };
  return {
    get available() {
      return connection.connected;
    },
    async page(conversationId, afterSeq) {
      const page = await request("messages:sync", { conversationId, afterSeq, limit: 500 });
      return {
        messages: (Array.isArray(page["messages"]) ? page["messages"] : []) as WireMessage[],
        hasMore: page["hasMore"] === true,
      };
    },
    async receipt(conversationId, kind, upToSeq) {
      await request(`message:${kind}`, { conversationId, upToSeq });
    },
  };
}

/** `GET …/messages?afterSeq=`, `POST …/delivered` and `…/read`. */
export function httpChannel(http: ParleyHttp, timers: Timers, network: NetworkStatus): MessagesChannel {
  return {
    get available() {
      return network.isOnline();
    },
    page: (conversationId, afterSeq) => overHttp(timers, http.messages(conversationId, afterSeq)),
    async receipt(conversationId, kind, upToSeq) {
      await overHttp(timers, http.receipt(conversationId, kind, upToSeq));
    },
  };
}

/** An HTTP call with the socket's timeout; a request that did not get through is {@link NotConnected}. */
export async function overHttp<T>(timers: Timers, work: Promise<T>, ms = REQUEST_TIMEOUT_MS): Promise<T> {
  try {
    return await within(timers, ms, work);
  } catch (error) {
    if (error instanceof HttpError && error.status === 0) throw new NotConnected(error.message);
    throw error;
  }
}

export interface MessageRouteDeps {
  mode(): MessagesMode;
  connection: Pick<Connection, "connected" | "call" | "waitConnected">;
  http: ParleyHttp;
  timers: Timers;
  network: NetworkStatus;
  closed(): boolean;
  /** A send over HTTP met a refused token (it waits, uncounted, and is tried with a fresh one). */
  onAuthError(error: AuthError): void;
  /** How long to wait before trying HTTP again after a request that did not get through. */
  retryMs(): number;
}

/** Where each send attempt goes: the socket's `message:send`, or `POST …/messages`. */
export class MessageRoute implements SendPort {
  private waiters = new Set<() => void>();
  /** After a request that did not get through, no HTTP attempt before this time (ms). */
  private notBefore = 0;

  constructor(private readonly deps: MessageRouteDeps) {}

  /** The mode (or the network) may have changed: wake an attempt waiting for its transport. */
  changed(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves when an attempt can be made in the current mode; rejects with {@link ClientClosed} once closed. */
  async ready(): Promise<void> {
    for (;;) {
      if (this.deps.closed()) throw new ClientClosed();
      if (this.deps.mode() === "http") {
        const wait = this.notBefore - this.deps.timers.now();
        if (wait > 0) await this.pauseFor(wait);
        else if (this.deps.network.isOnline()) return;
        else await this.nextChange(undefined);
      } else {
        if (this.deps.connection.connected) return;
        await this.nextChange(this.deps.connection.waitConnected()); // ClientClosed goes through
      }
    }
  }

  async send(payload: { conversationId: string; clientMessageId: string; body: string }): Promise<unknown> {
    if (this.deps.mode() === "socket") return this.deps.connection.call("message:send", payload);
    try {
      const sent = await this.deps.http.sendMessage(payload.conversationId, payload.clientMessageId, payload.body);
      return { ok: true, message: sent.message, duplicate: sent.duplicate };
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      const refused = authErrorFromHttp(error);
      if (refused !== null) this.deps.onAuthError(refused);
      if (error.status === 0 || refused !== null) {
        // Not through (offline, server down, a token refused as a handshake would be): like a
        // lost link, uncounted; the next attempt waits in ready(), outside the ack timeout.
        this.notBefore = this.deps.timers.now() + this.deps.retryMs();
        throw new NotConnected(error.message);
      }
      const retryAfterMs = error.retryAfterMs;
      return { ok: false, error: { code: error.code, message: error.message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } };
    }
  }

  /** Wait `ms`, or less if the mode changes or the client closes. */
  private async pauseFor(ms: number): Promise<void> {
    const wait = pause(this.deps.timers, ms);
    this.waiters.add(wait.wake);
    await wait.done;
    this.waiters.delete(wait.wake);
    if (this.deps.timers.now() < this.notBefore) this.notBefore = 0; // woken early (mode, network, close): try now
  }

  /** Resolves on the next mode or network change, or when `also` resolves; rejects if `also` does. */
  private nextChange(also: Promise<void> | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const stopNetwork = this.deps.network.subscribe(() => wake());
      const wake = (): void => {
        this.waiters.delete(wake);
        stopNetwork();
        resolve();
      };
      this.waiters.add(wake);
      also?.then(wake, (error: unknown) => {
        this.waiters.delete(wake);
        stopNetwork();
        reject(error);
      });
    });
  }
}
