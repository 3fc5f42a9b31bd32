/**
 * The connection: connect with a fresh token each attempt, reconnect with backoff.
 *
 * socket.io-client's own reconnection is off: the SDK runs the loop so that the token
 * provider is asked on every attempt (PROTOCOL §6), a refused token keeps being retried
 * with a fresh one, and the state is observable. Each attempt gets a new socket, so
 * nothing buffered by a dead one is ever sent twice. A dead link is noticed by Engine.IO's
 * pings (server defaults: under 5 s), or at once when the device reports it is offline.
 */

import { io } from "socket.io-client";

import { CONNECT_TIMEOUT_MS, reconnectDelay } from "./backoff.js";
import { AuthError, ClientClosed, ConnectError, NotConnected, isRecord } from "./errors.js";
import type { ConnectionState } from "./models.js";
import { type NetworkStatus, alwaysOnline } from "./network.js";
import { transportClasses } from "./transports.js";
import { type Timers, systemTimers, within } from "./timers.js";

export type TokenProvider = () => string | Promise<string>;
export type Transport = "websocket" | "polling";
export type EventHandler = (data: unknown) => void;

/** The part of a socket.io-client `Socket` the SDK uses (tests hand in a fake). */
export interface SocketLike {
  readonly connected: boolean;
  on(event: string, listener: (...args: never[]) => void): unknown;
  onAny(listener: (event: string, ...args: unknown[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  connect(): unknown;
  disconnect(): unknown;
  removeAllListeners(): unknown;
}

export interface SocketOptions {
  auth: Record<string, string>;
  transports: Transport[];
  timeoutMs: number;
}

export type SocketFactory = (url: string, options: SocketOptions) => SocketLike;

/** A real socket.io-client socket: WebSocket first, HTTP long-polling when it cannot open. */
export const socketIoFactory: SocketFactory = (url, options) =>
  io(url, {
    auth: options.auth,
    transports: transportClasses(options.transports),
    tryAllTransports: true,
    reconnection: false,
    timeout: options.timeoutMs,
    autoConnect: false,
    forceNew: true,
  }) as unknown as SocketLike;

export interface ConnectionOptions {
  url: string;
  tokenProvider: TokenProvider;
  deviceId?: string | undefined;
  transports?: Transport[] | undefined;
  timers?: Timers | undefined;
  /** Values in [0, 1) for the ±50% jitter; `undefined` means no jitter. */
  random?: (() => number) | undefined;
  network?: NetworkStatus | undefined;
  socketFactory?: SocketFactory | undefined;
  /** Start wanting a connection (default true); see {@link Connection.setEnabled}. */
  enabled?: boolean | undefined;
}

interface Link {
  socket: SocketLike;
  closed: Promise<void>;
}

export class Connection {
  state: ConnectionState = "disconnected";
  /** Why the last attempt failed (an {@link AuthError} for a refused token); null once connected. */
  lastError: Error | null = null;
  /** Run (not awaited) after every successful connect: rejoin, resync. */
  readonly onConnected: Array<() => unknown> = [];
  private readonly options: Required<Omit<ConnectionOptions, "deviceId" | "random" | "enabled">> &
    Pick<ConnectionOptions, "deviceId" | "random">;
  private enabled: boolean;
  private readonly handlers = new Map<string, Set<EventHandler>>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly errorListeners = new Set<(error: Error) => void>();
  private socket: SocketLike | null = null;
  /** Ends the connection attempt in progress (close, or the device went offline). */
  private abortAttempt: (() => void) | null = null;
  private waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  private readonly inFlight = new Set<(error: Error) => void>();
  private wakeUp: (() => void) | null = null;
  private closing = false;
  private stopNetwork: (() => void) | null = null;

  constructor(options: ConnectionOptions) {
    this.options = {
      transports: ["websocket", "polling"],
      timers: systemTimers,
      network: alwaysOnline,
      socketFactory: socketIoFactory,
      ...definedOnly(options),
    } as Connection["options"];
    this.enabled = options.enabled ?? true;
  }

  // ---- observing ------------------------------------------------------------------------

  /** Calls `listener` with each new state; returns the unsubscribe function. */
  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Calls `listener` with the error of each failed attempt ({@link AuthError}, {@link ConnectError}). */
  onError(listener: (error: Error) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Handle a server event on every socket, present and future. */
  on(event: string, handler: EventHandler): () => void {
    let set = this.handlers.get(event);
    if (set === undefined) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  // ---- using the socket -------------------------------------------------------------------

  get connected(): boolean {
    return this.socket !== null;
  }

  /** Resolves once connected; rejects with {@link ClientClosed} if closed first. */
  waitConnected(): Promise<void> {
    if (this.socket !== null) return Promise.resolve();
    if (this.closing) return Promise.reject(new ClientClosed());
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Emit with an ack. Rejects with {@link NotConnected} when offline or if the link drops first. */
  call(event: string, payload: Record<string, unknown>): Promise<unknown> {
    const socket = this.socket;
    if (socket === null) return Promise.reject(new NotConnected());
    return new Promise((resolve, reject) => {
      const fail = (error: Error): void => reject(error);
      this.inFlight.add(fail);
      socket.emit(event, payload, (ack: unknown) => {
        this.inFlight.delete(fail);
        resolve(ack);
      });
    });
  }

  /** Fire and forget (typing); dropped when offline. */
  emit(event: string, payload: Record<string, unknown>): void {
    this.socket?.emit(event, payload);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Connect, stay connected, reconnect with backoff; resolves after {@link close}. */
  async run(): Promise<void> {
    const { network, random } = this.options;
    this.stopNetwork = network.subscribe((online) => this.networkChanged(online));
    let attempt = 0;
    while (!this.closing) {
      if (!this.enabled || !network.isOnline()) {
        this.setState("disconnected");
        await this.rest(Number.POSITIVE_INFINITY); // until enabled and the device is back online
        continue;
      }
      this.setState("connecting");
      let link: Link;
      try {
        link = await this.connectOnce();
      } catch (error) {
        if (this.closing) break;
        if (!this.enabled) continue; // switched off mid-attempt: not a failure
        this.failed(error);
        await this.rest(reconnectDelay(attempt, random));
        attempt += 1;
        continue;
      }
      attempt = 0;
      await this.stayConnected(link);
      if (!this.closing) {
        await this.rest(reconnectDelay(0, random));
        attempt = 1;
      }
    }
    this.setState("disconnected");
  }

  /**
   * Whether a connection is wanted at all: off (every feature over HTTP, PROTOCOL §7) drops
   * the link and makes no attempt; on connects now, without waiting for a backoff step.
   */
  setEnabled(enabled: boolean): void {
    if (enabled === this.enabled) return;
    this.enabled = enabled;
    if (enabled) {
      this.wakeUp?.();
      return;
    }
    this.abortAttempt?.();
    this.socket?.disconnect();
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** Skip the current backoff wait and try now (an app's "reconnect" button). */
  reconnectNow(): void {
    this.wakeUp?.();
  }

  close(): void {
    this.closing = true;
    this.stopNetwork?.();
    this.wakeUp?.();
    for (const waiter of this.waiters.splice(0)) waiter.reject(new ClientClosed());
    this.abortAttempt?.();
    this.socket?.disconnect();
    this.setState("disconnected");
  }

  // ---- internals --------------------------------------------------------------------------

  private async connectOnce(): Promise<Link> {
    const { url, tokenProvider, deviceId, transports, timers, socketFactory } = this.options;
    const token = await tokenProvider();
    if (this.closing) throw new ClientClosed();
    const auth: Record<string, string> = { token };
    if (deviceId) auth["deviceId"] = deviceId;
    const socket = socketFactory(url, { auth, transports, timeoutMs: CONNECT_TIMEOUT_MS });
    const closed = new Promise<void>((resolve) => socket.on("disconnect", () => resolve()));
    const opened = new Promise<void>((resolve, reject) => {
      socket.on("connect", () => resolve());
      socket.on("connect_error", (error: unknown) => reject(refusal(error)));
      this.abortAttempt = () => reject(this.closing ? new ClientClosed() : new ConnectError("the device is offline"));
    });
    socket.onAny((event, data) => this.dispatch(event, data));
    try {
      socket.connect();
      await within(timers, CONNECT_TIMEOUT_MS, opened);
    } catch (error) {
      release(socket);
      throw error;
    } finally {
      this.abortAttempt = null;
    }
    if (this.closing) {
      release(socket);
      throw new ClientClosed();
    }
    return { socket, closed };
  }

  private async stayConnected(link: Link): Promise<void> {
    this.socket = link.socket;
    this.lastError = null;
    this.setState("connected");
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
    for (const hook of this.onConnected) {
      Promise.resolve()
        .then(hook)
        .catch((error: unknown) => warn("an on-connect step failed", error));
    }
    await link.closed;
    this.socket = null;
    release(link.socket);
    for (const fail of [...this.inFlight]) fail(new NotConnected());
    this.inFlight.clear();
    this.setState("disconnected");
  }

  /** Wait `ms` (forever: Infinity), or until woken by the network, reconnectNow() or close(). */
  private rest(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const { timers } = this.options;
      const handle = Number.isFinite(ms) ? timers.setTimeout(() => done(), ms) : undefined;
      const done = (): void => {
        if (handle !== undefined) timers.clearTimeout(handle);
        this.wakeUp = null;
        resolve();
      };
      this.wakeUp = done;
    });
  }

  private networkChanged(online: boolean): void {
    if (online) {
      this.wakeUp?.();
      return;
    }
    // Known offline: drop the link now instead of waiting for the pings to fail.
    this.abortAttempt?.();
    this.socket?.disconnect();
  }

  private failed(error: unknown): void {
    const failure = error instanceof Error ? error : new ConnectError(String(error));
    this.lastError = failure;
    this.setState("disconnected");
    for (const listener of [...this.errorListeners]) guarded(() => listener(failure));
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    for (const listener of [...this.stateListeners]) guarded(() => listener(state));
  }

  private dispatch(event: string, data: unknown): void {
    for (const handler of [...(this.handlers.get(event) ?? [])]) guarded(() => handler(data));
  }
}

/** What a `connect_error` means: a refused token, or anything else. */
function refusal(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (message.startsWith("auth_")) {
    const data = isRecord(error) && isRecord(error["data"]) ? error["data"] : {};
    const detail = typeof data["message"] === "string" ? data["message"] : undefined;
    return new AuthError(message, detail);
  }
  return new ConnectError(`could not connect: ${message}`);
}

function release(socket: SocketLike): void {
  socket.removeAllListeners();
  socket.disconnect();
}

/** Run a listener; one that throws is logged, never breaks the caller. */
export function guarded(work: () => void): void {
  try {
    work();
  } catch (error) {
    warn("a listener failed", error);
  }
}

export function warn(what: string, error: unknown): void {
  (globalThis as { console?: { warn(...args: unknown[]): void } }).console?.warn(`parley: ${what}`, error);
}

/** `options` without its `undefined` values, for spreading over defaults. */
export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
