/**
 * The client: one connection, the outbox and its sender, and the followed conversations.
 *
 * After every (re)connect each followed conversation is joined again and synced after the
 * last seq it holds, and then every 30 s (a lost last message shows up even if nothing
 * newer comes). Live events are routed to their conversation.
 *
 * Each feature goes over the socket or HTTP (PROTOCOL §7, {@link FeatureModes}): the app's
 * choice capped by the server's client config, read before connecting, after every reconnect
 * and every 5 minutes. Messages and presence in `http` mode are polled ({@link HttpPoller});
 * sends go through the same outbox and sender either way ({@link MessageRoute}). When no
 * feature needs the socket none is opened; when the socket cannot be opened at all, messages
 * and presence go over HTTP (typing off) until it opens. A switch loses and doubles nothing:
 * sync is by seq, merges dedupe by id, and a send repeated on the other transport keeps its
 * `clientMessageId`.
 */

import { CONNECT_TIMEOUT_MS, POSITION_CHECK_MS, REQUEST_TIMEOUT_MS } from "./backoff.js";
import { MessageRoute, type MessagesChannel, httpChannel, socketChannel } from "./channels.js";
import {
  type ClientConfig,
  ConfigFollower,
  type FeatureModes,
  capModes,
  needsSocket,
  sameModes,
} from "./config.js";
import {
  Connection,
  type SocketFactory,
  type TokenProvider,
  type Transport,
  definedOnly,
  guarded,
  warn,
} from "./connection.js";
import { Conversation } from "./conversation.js";
import { routeEvents } from "./events.js";
import { AuthError, ClientClosed, NotConnected, ParleyError } from "./errors.js";
import { type FetchLike, ParleyHttp } from "./http.js";
import { tokenSubject, uuid4 } from "./ids.js";
import type { ConnectionState } from "./models.js";
import { type NetworkStatus, alwaysOnline } from "./network.js";
import { Outbox, type OutboxItem } from "./outbox.js";
import { HttpPoller } from "./poller.js";
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
  /**
   * How the app would like each feature carried (PROTOCOL §7); default `socket` for all.
   * The server's `GET /api/client-config` is a ceiling: what it sets to `http` / `off` is
   * used that way whatever is asked here. See {@link ParleyClient.modes}.
   */
  features?: Partial<FeatureModes>;
  /** The HTTP client for the API (polling, HTTP sends, the client config); default `globalThis.fetch`. */
  fetch?: FetchLike;
}

const ALL_HTTP: FeatureModes = Object.freeze({ messages: "http", typing: "off", presence: "http" });

/** A Parley user's connection. `await client.start()`, then `client.conversation(id)`. */
export class ParleyClient {
  readonly connection: Connection;
  /** The HTTP API with this client's token provider (also what `http` modes use). */
  readonly http: ParleyHttp;
  /** The signed-in user (the token's `sub`), known once {@link start} resolved. */
  userId = "";
  readonly conversations = new Map<string, Conversation>();
  private readonly options: ParleyClientOptions;
  private readonly timers: Timers;
  private outbox: Outbox | null = null;
  private readonly joining = new Map<string, Promise<void>>();
  /** The first poll of a conversation followed while polling, for `open()` to wait on. */
  private readonly firstPolls = new Map<string, Promise<boolean>>();
  private running: Promise<unknown> | null = null;
  private positionCheck: unknown = undefined;
  private closed = false;
  private readonly wanted: FeatureModes;
  private readonly network: NetworkStatus;
  private readonly config: ConfigFollower;
  private readonly poller: HttpPoller;
  private readonly route: MessageRoute;
  private readonly socketMessages: MessagesChannel;
  private readonly httpMessages: MessagesChannel;
  private current: FeatureModes;
  /** The last connection attempt failed (not for the token) and none has opened since. */
  private socketFailing = false;
  private shownState: ConnectionState = "disconnected";
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly modeListeners = new Set<(modes: FeatureModes) => void>();
  private stopNetwork: (() => void) | null = null;
  /** The last token refused over HTTP, until a poll gets through. */
  private httpError: Error | null = null;
  private readonly errorListeners = new Set<(error: Error) => void>();

  constructor(options: ParleyClientOptions) {
    this.options = options;
    this.timers = options.timers ?? systemTimers;
    this.network = options.network ?? alwaysOnline;
    this.wanted = { messages: "socket", typing: "socket", presence: "socket", ...definedOnly(options.features ?? {}) };
    this.current = this.wanted;
    this.http = new ParleyHttp({
      url: options.url,
      tokenProvider: options.tokenProvider,
      ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
    });
    this.connection = new Connection({
      url: options.url,
      tokenProvider: options.tokenProvider,
      deviceId: options.deviceId,
      transports: options.transports,
      timers: this.timers,
      random: options.random ?? Math.random,
      network: options.network,
      socketFactory: options.socketFactory,
      enabled: false, // until the client config says whether a socket is wanted
    });
    this.config = new ConfigFollower(() => this.http.clientConfig(), this.timers, CONNECT_TIMEOUT_MS);
    this.socketMessages = socketChannel(this.connection, this.timers);
    this.httpMessages = httpChannel(this.http, this.timers, this.network);
    this.route = new MessageRoute({
      mode: () => this.current.messages,
      connection: this.connection,
      http: this.http,
      timers: this.timers,
      network: this.network,
      closed: () => this.closed,
      onAuthError: (error) => this.httpFailed(error),
      retryMs: () => this.config.config.httpPollIntervalMs,
    });
    this.poller = new HttpPoller({
      http: this.http,
      timers: this.timers,
      network: this.network,
      intervalMs: () => this.config.config.httpPollIntervalMs,
      modes: () => this.current,
      conversations: () => this.conversations.values(),
      probe: () => this.config.refresh(),
      onAuthError: (error) => this.httpFailed(error),
      onState: (state) => {
        if (state === "connected") {
          this.httpError = null;
          void this.config.refresh(); // the HTTP path's "after every reconnect"
        }
        this.updateState();
      },
      random: options.random ?? Math.random,
    });
    routeEvents(this.connection, this.conversations, () => this.current);
    this.connection.onConnected.push(() => this.afterConnect());
    this.connection.onStateChange((state) => {
      if (state === "disconnected") for (const c of this.conversations.values()) c.disconnected();
      this.updateState();
    });
    this.connection.onError((error) => {
      for (const listener of [...this.errorListeners]) guarded(() => listener(error));
      if (error instanceof AuthError || this.socketFailing) return;
      this.socketFailing = true; // keep working over HTTP until a socket opens
      this.updateModes();
    });
    this.config.onChange(() => this.updateModes());
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  /** Read the user from a first token, load the outbox, then connect (in the background) and keep connected. */
  async start(): Promise<void> {
    if (this.running !== null) return;
    this.userId = tokenSubject(await this.options.tokenProvider());
    const outbox = new Outbox(this.options.storage, this.options.storageKey ?? `parley.outbox.${this.userId}`);
    this.outbox = outbox;
    for (const item of await outbox.load()) this.conversation(item.conversationId).restore(item);
    const sender = new Sender(outbox, this.route, this.timers, (item, outcome) => this.sent(item, outcome));
    this.stopNetwork = this.network.subscribe((online) => {
      if (!online) return;
      this.poller.pollNow();
      this.route.changed(); // an HTTP send waiting after a failed attempt goes now
    });
    this.running = Promise.all([this.connection.run(), sender.run(), this.firstConfig()]);
    this.schedulePositionCheck();
  }

  /** Disconnect and stop every timer. Unsent messages stay in the storage for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    this.timers.clearTimeout(this.positionCheck);
    this.config.stop();
    this.poller.stop();
    this.stopNetwork?.();
    this.route.changed(); // a send waiting for its transport ends
    this.outbox?.close();
    this.connection.close();
    for (const conversation of this.conversations.values()) conversation.stopTyping();
    await this.running;
  }

  // ---- state -------------------------------------------------------------------------------

  /**
   * `connecting` / `connected` / `disconnected`: the socket's state, or while messages go
   * over HTTP, the polling's (`connected` once a request got through, `disconnected` while none does).
   */
  get state(): ConnectionState {
    if (this.closed) return "disconnected";
    return this.current.messages === "http" ? this.poller.state : this.connection.state;
  }

  /**
   * The modes in force now: {@link ParleyClientOptions.features} capped by the server's client
   * config, all `http` / `off` while the socket cannot be opened.
   */
  get modes(): FeatureModes {
    return this.current;
  }

  /** The server's client config as last read (PROTOCOL §7; the default until it was). */
  get clientConfig(): ClientConfig {
    return this.config.config;
  }

  /** Calls `listener` with the modes each time they change; returns the unsubscribe. */
  onModesChange(listener: (modes: FeatureModes) => void): () => void {
    this.modeListeners.add(listener);
    return () => this.modeListeners.delete(listener);
  }

  /** Read the server's client config now (it is also read after every reconnect and every 5 minutes). */
  async refreshConfig(): Promise<void> {
    await this.config.refresh();
  }

  /**
   * Why the last connection attempt failed (`AuthError` for a refused token), or null; while
   * messages go over HTTP, a token refused there (HTTP 401, as an `AuthError`) comes first.
   */
  get lastError(): Error | null {
    if (this.current.messages === "http") return this.httpError ?? this.connection.lastError;
    return this.connection.lastError;
  }

  /** Calls `listener` with each new state (connecting, connected, disconnected); returns the unsubscribe. */
  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Calls `listener` with the error of each failed connection attempt; returns the unsubscribe. */
  onError(listener: (error: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Resolves once {@link state} is `connected`; rejects with `ClientClosed` if closed first. */
  waitConnected(): Promise<void> {
    if (this.state === "connected") return Promise.resolve();
    if (this.closed) return Promise.reject(new ClientClosed());
    return new Promise((resolve, reject) => {
      const stop = this.onStateChange(() => {
        if (this.state !== "connected" && !this.closed) return;
        stop();
        if (this.closed) reject(new ClientClosed());
        else resolve();
      });
    });
  }

  /** Skip the reconnect backoff (and the wait for the next poll) and try now. */
  reconnectNow(): void {
    this.connection.reconnectNow();
    this.poller.pollNow();
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
      channel: () => this.channel(),
      modes: () => this.current,
    });
    this.conversations.set(conversationId, conversation);
    if (this.connection.connected) this.join(conversation).catch(() => undefined);
    if (this.polled) this.pollFirst(conversation);
    return conversation;
  }

  /** {@link conversation}, resolved once joined and synced (at once when offline). */
  async open(conversationId: string): Promise<Conversation> {
    const conversation = this.conversation(conversationId);
    const joining = this.joining.get(conversationId);
    if (joining !== undefined) await joining;
    else if (!conversation.joined && this.connection.connected) await this.join(conversation);
    if (this.polled) await (this.firstPolls.get(conversationId) ?? this.pollFirst(conversation));
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
    if (this.socketFailing) {
      this.socketFailing = false;
      this.updateModes();
    }
    void this.config.refresh(); // after every reconnect (PROTOCOL §7)
    for (const conversation of this.conversations.values()) this.join(conversation).catch(() => undefined);
  }

  /** The first config read; only then is a socket opened, if some feature wants one. */
  private async firstConfig(): Promise<void> {
    await this.config.refresh();
    if (!this.closed) this.updateModes();
  }

  private pollFirst(conversation: Conversation): Promise<boolean> {
    const run = this.poller.pollConversation(conversation).finally(() => this.firstPolls.delete(conversation.id));
    this.firstPolls.set(conversation.id, run);
    return run;
  }

  /** Some feature is polled over HTTP now. */
  private get polled(): boolean {
    return this.current.messages === "http" || this.current.presence === "http";
  }

  private channel(): MessagesChannel {
    return this.current.messages === "http" ? this.httpMessages : this.socketMessages;
  }

  /** Apply the app's choice, the server's ceiling and the socket's health; act on what changed. */
  private updateModes(): void {
    if (this.closed) return;
    const capped = capModes(this.wanted, this.config.config.features);
    const next = this.socketFailing && needsSocket(capped) ? ALL_HTTP : capped;
    const previous = this.current;
    this.current = next;
    this.connection.setEnabled(needsSocket(capped)); // a failing socket keeps trying
    this.poller.setActive(next.messages === "http" || next.presence === "http");
    if (!sameModes(previous, next)) {
      this.switched(previous, next);
      for (const listener of [...this.modeListeners]) guarded(() => listener(next));
    }
    this.updateState();
  }

  private switched(previous: FeatureModes, next: FeatureModes): void {
    this.route.changed(); // a send waiting for one transport may go by the other now
    if (previous.typing === "socket" && next.typing === "off") {
      for (const conversation of this.conversations.values()) conversation.typingOff();
    }
    const toSocket =
      (previous.messages === "http" && next.messages === "socket") ||
      (previous.presence === "http" && next.presence === "socket");
    if (toSocket && this.connection.connected) {
      // Events were ignored while polled: join again for a fresh snapshot and sync after the last seq.
      for (const conversation of this.conversations.values()) this.join(conversation).catch(() => undefined);
    }
  }

  private httpFailed(error: AuthError): void {
    this.httpError = error;
    for (const listener of [...this.errorListeners]) guarded(() => listener(error));
  }

  private updateState(): void {
    const state = this.state;
    if (state === this.shownState) return;
    this.shownState = state;
    for (const listener of [...this.stateListeners]) guarded(() => listener(state));
  }

  private schedulePositionCheck(): void {
    this.positionCheck = this.timers.setTimeout(() => {
      if (this.closed) return;
      if (this.connection.connected && this.current.messages === "socket") {
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
}

