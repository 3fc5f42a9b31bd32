/**
 * The client: one connection, the outbox and its sender, and the followed conversations.
 *
 * After every (re)connect each followed conversation is joined again and synced after the
 * last seq it holds, and then every 30 s (a lost last message shows up even if nothing
 * newer comes). Live events are routed to their conversation.
 */

import { POSITION_CHECK_MS, REQUEST_TIMEOUT_MS } from "./backoff.js";
import {
  Connection,
  type SocketFactory,
  type TokenProvider,
  type Transport,
  warn,
} from "./connection.js";
import { Conversation } from "./conversation.js";
import { AuthError, NotConnected, ParleyError, isRecord } from "./errors.js";
import { tokenSubject, uuid4 } from "./ids.js";
import type { ConnectionState, WireMessage } from "./models.js";
import type { NetworkStatus } from "./network.js";
import { Outbox, type OutboxItem } from "./outbox.js";
import { type Outcome, Sender } from "./sender.js";
import type { KeyValueStorage } from "./storage.js";
import { type Timers, systemTimers, within } from "./timers.js";

export interface ParleyClientOptions {
  /** The gateway's base URL, e.g. `https://chat.example.com` (the page's own origin on the web). */
  url: string;
  /** Called before every connection attempt: return a valid JWT (tokens expire; hand out a fresh one). */
  tokenProvider: TokenProvider;
  /** A stable id of this install (PROTOCOL §2), optional. */
  deviceId?: string;
  /** Default `["websocket", "polling"]`: WebSocket, falling back to long-polling. */
  transports?: Transport[];
  /** Where unsent messages are kept: `webStorage()` (localStorage), `asyncStorage(AsyncStorage)`; default memory. */
  storage?: KeyValueStorage;
  /** The storage key of the outbox; default `parley.outbox.<userId>`. */
  storageKey?: string;
  /** The device's network status: `browserNetwork()`, `netInfoNetwork(NetInfo)`; default: no information. */
  network?: NetworkStatus;
  /** Values in [0, 1) for the reconnect jitter; default `Math.random`. */
  random?: () => number;
  timers?: Timers;
  socketFactory?: SocketFactory;
  /** Makes each `clientMessageId`; default a random UUID v4. */
  newId?: () => string;
}

/** A Parley user's connection. `await client.start()`, then `client.conversation(id)`. */
export class ParleyClient {
  readonly connection: Connection;
  /** The signed-in user (the token's `sub`), known once {@link start} resolved. */
  userId = "";
  readonly conversations = new Map<string, Conversation>();
  private readonly options: ParleyClientOptions;
  private readonly timers: Timers;
  private outbox: Outbox | null = null;
  private readonly joining = new Map<string, Promise<void>>();
  private running: Promise<unknown> | null = null;
  private positionCheck: unknown = undefined;
  private closed = false;

  constructor(options: ParleyClientOptions) {
    this.options = options;
    this.timers = options.timers ?? systemTimers;
    this.connection = new Connection({
      url: options.url,
      tokenProvider: options.tokenProvider,
      deviceId: options.deviceId,
      transports: options.transports,
      timers: this.timers,
      random: options.random ?? Math.random,
      network: options.network,
      socketFactory: options.socketFactory,
    });
    this.routeEvents();
    this.connection.onConnected.push(() => this.afterConnect());
    this.connection.onStateChange((state) => {
      if (state === "disconnected") for (const c of this.conversations.values()) c.disconnected();
    });
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Read the user from a first token, load the outbox, then connect (in the background) and keep connected. */
  async start(): Promise<void> {
    if (this.running !== null) return;
    this.userId = tokenSubject(await this.options.tokenProvider());
    const outbox = new Outbox(this.options.storage, this.options.storageKey ?? `parley.outbox.${this.userId}`);
    this.outbox = outbox;
    for (const item of await outbox.load()) this.conversation(item.conversationId).restore(item);
    const sender = new Sender(outbox, this.connection, this.timers, (item, outcome) => this.sent(item, outcome));
    this.running = Promise.all([this.connection.run(), sender.run()]);
    this.schedulePositionCheck();
  }

  /** Disconnect and stop every timer. Unsent messages stay in the storage for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    this.timers.clearTimeout(this.positionCheck);
    this.outbox?.close();
    this.connection.close();
    for (const conversation of this.conversations.values()) conversation.stopTyping();
    await this.running;
  }

  // ---- state -------------------------------------------------------------------------------

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Why the last connection attempt failed (`AuthError` for a refused token), or null. */
  get lastError(): Error | null {
    return this.connection.lastError;
  }

  /** Calls `listener` with each new state (connecting, connected, disconnected); returns the unsubscribe. */
  onStateChange(listener: (state: ConnectionState) => void): () => void {
    return this.connection.onStateChange(listener);
  }

  /** Calls `listener` with the error of each failed connection attempt; returns the unsubscribe. */
  onError(listener: (error: Error) => void): () => void {
    return this.connection.onError(listener);
  }

  waitConnected(): Promise<void> {
    return this.connection.waitConnected();
  }

  /** Skip the reconnect backoff and try now. */
  reconnectNow(): void {
    this.connection.reconnectNow();
  }

  /** Messages waiting to be sent, all conversations together. */
  get queued(): number {
    return this.outbox?.size ?? 0;
  }

  // ---- conversations -------------------------------------------------------------------------

  /**
   * Follow a conversation (joined now if connected, and after every reconnect, and synced)
   * and return it at once. Call after {@link start}.
   */
  conversation(conversationId: string): Conversation {
    let conversation = this.conversations.get(conversationId);
    if (conversation !== undefined) return conversation;
    const outbox = this.outbox;
    if (outbox === null) throw new Error("call `await client.start()` first");
    conversation = new Conversation(conversationId, {
      userId: this.userId,
      connection: this.connection,
      outbox,
      timers: this.timers,
      newId: this.options.newId ?? uuid4,
    });
    this.conversations.set(conversationId, conversation);
    if (this.connection.connected) this.join(conversation).catch(() => undefined);
    return conversation;
  }

  /** {@link conversation}, resolved once joined and synced (at once when offline). */
  async open(conversationId: string): Promise<Conversation> {
    const conversation = this.conversation(conversationId);
    const joining = this.joining.get(conversationId);
    if (joining !== undefined) await joining;
    else if (!conversation.joined && this.connection.connected) await this.join(conversation);
    return conversation;
  }

  /**
   * Stop following a conversation: `typing:stop` if needed, `conversation:leave`, and no more
   * rejoining or syncing it. Messages already queued for it are still sent.
   */
  async leave(conversationId: string): Promise<void> {
    const conversation = this.conversations.get(conversationId);
    if (conversation === undefined) return;
    this.conversations.delete(conversationId);
    conversation.stopTyping();
    conversation.disconnected();
    if (this.connection.connected) {
      await within(this.timers, REQUEST_TIMEOUT_MS, this.connection.call("conversation:leave", { conversationId }));
    }
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Join and sync; one run per conversation at a time. */
  private join(conversation: Conversation): Promise<void> {
    const running = this.joining.get(conversation.id);
    if (running !== undefined) return running;
    const run = conversation
      .joinAndSync()
      .catch((error: unknown) => {
        if (error instanceof ParleyError && error.retryable && !(error instanceof AuthError)) {
          // Over the join limit (a reconnect rejoins every conversation at once) or a backend
          // down: again after the wait the server asked for, not only at the next reconnect.
          this.timers.setTimeout(() => {
            if (this.connection.connected && !conversation.joined && this.conversations.has(conversation.id)) {
              this.join(conversation).catch(() => undefined);
            }
          }, error.retryAfterMs ?? 1_000);
        } else if (!(error instanceof NotConnected)) {
          warn(`could not join ${conversation.id} (retried at reconnect)`, error);
        }
        throw error;
      })
      .finally(() => this.joining.delete(conversation.id));
    this.joining.set(conversation.id, run);
    return run;
  }

  private afterConnect(): void {
    for (const conversation of this.conversations.values()) this.join(conversation).catch(() => undefined);
  }

  private schedulePositionCheck(): void {
    this.positionCheck = this.timers.setTimeout(() => {
      if (this.closed) return;
      if (this.connection.connected) {
        for (const conversation of this.conversations.values()) {
          conversation.sync().catch(() => undefined);
        }
      }
      this.schedulePositionCheck();
    }, POSITION_CHECK_MS);
  }

  private sent(item: OutboxItem, outcome: Outcome): void {
    this.conversations.get(item.conversationId)?.sent(item, outcome); // unless it was left
  }

  private about(data: unknown): Conversation | undefined {
    if (!isRecord(data) || typeof data["conversationId"] !== "string") return undefined;
    return this.conversations.get(data["conversationId"]);
  }

  private routeEvents(): void {
    const on = (event: string, handle: (c: Conversation, data: Record<string, unknown>) => void): void => {
      this.connection.on(event, (data) => {
        const conversation = this.about(data);
        if (conversation !== undefined) handle(conversation, data as Record<string, unknown>);
      });
    };
    this.connection.on("message:new", (data) => {
      const message = isRecord(data) ? data["message"] : undefined;
      this.about(message)?.messageNew(message as WireMessage);
    });
    on("typing:start", (c, data) => c.typing.started(String(data["userId"])));
    on("typing:stop", (c, data) => c.typing.stopped(String(data["userId"])));
    on("user:online", (c, data) => c.presence(String(data["userId"]), true));
    on("user:offline", (c, data) => c.presence(String(data["userId"]), false));
    on("message:delivered", (c, data) => c.receipt("delivered", String(data["userId"]), Number(data["upToSeq"])));
    on("message:read", (c, data) => c.receipt("read", String(data["userId"]), Number(data["upToSeq"])));
  }
}
