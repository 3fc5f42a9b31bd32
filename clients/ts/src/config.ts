/**
 * Per-feature modes and the server's client config (PROTOCOL §7).
 *
 * The app says how it would like each feature carried ({@link FeatureModes}); the server's
 * `GET /api/client-config` says what it allows. The server is a ceiling: a feature it sets to
 * `http` (or `off`) is used that way whatever the app asked, so an operator can roll a feature
 * back without an app release. {@link ConfigFollower} reads the config before the first
 * connection, after every reconnect ({@link ConfigFollower.refresh}) and every 5 minutes.
 * A server without the endpoint (404) allows everything; one that cannot be reached leaves
 * the last config read in force.
 */

import { warn } from "./connection.js";
import { HttpError, isRecord } from "./errors.js";
import { type Timers, within } from "./timers.js";

export type MessagesMode = "socket" | "http";
export type TypingMode = "socket" | "off";
export type PresenceMode = "socket" | "http";

/** How each feature is carried: over the Socket.IO connection, or the HTTP polling path. */
export interface FeatureModes {
  /** `socket`: `message:send` / `message:new`; `http`: `POST …/messages` and polling `GET …/messages`. */
  readonly messages: MessagesMode;
  /** `socket`: typing events; `off`: no typing sent or shown. */
  readonly typing: TypingMode;
  /** `socket`: `user:online` / `user:offline`; `http`: members' `online` from polling `GET /api/conversations/{id}`. */
  readonly presence: PresenceMode;
}

/** `GET /api/client-config`: what the server allows, and how often to poll. */
export interface ClientConfig {
  readonly features: FeatureModes;
  readonly httpPollIntervalMs: number;
}

export const ALL_SOCKET: FeatureModes = Object.freeze({ messages: "socket", typing: "socket", presence: "socket" });

/** What a server that says nothing allows (PROTOCOL §7's default). */
export const DEFAULT_CLIENT_CONFIG: ClientConfig = Object.freeze({ features: ALL_SOCKET, httpPollIntervalMs: 3_000 });

/** Re-read the config at least this often (PROTOCOL §7). */
export const CONFIG_REFRESH_MS = 5 * 60_000;
/** A poll interval below this is taken as this: a bad config must not make every client hammer the server. */
export const MIN_POLL_INTERVAL_MS = 250;

/**
 * The config as the server sent it, read leniently: an unknown or missing value is the
 * default for that field (a newer server may add modes; an older client uses sockets).
 */
export function parseClientConfig(raw: unknown): ClientConfig {
  const features = isRecord(raw) && isRecord(raw["features"]) ? raw["features"] : {};
  const interval = isRecord(raw) ? raw["httpPollIntervalMs"] : undefined;
  return {
    features: {
      messages: features["messages"] === "http" ? "http" : "socket",
      typing: features["typing"] === "off" ? "off" : "socket",
      presence: features["presence"] === "http" ? "http" : "socket",
    },
    httpPollIntervalMs:
      typeof interval === "number" && Number.isFinite(interval) && interval > 0
        ? Math.max(MIN_POLL_INTERVAL_MS, interval)
        : DEFAULT_CLIENT_CONFIG.httpPollIntervalMs,
  };
}

/** The app's choice capped by the server's: `socket` only where both say `socket`. */
export function capModes(wanted: FeatureModes, allowed: FeatureModes): FeatureModes {
  return {
    messages: wanted.messages === "socket" && allowed.messages === "socket" ? "socket" : "http",
    typing: wanted.typing === "socket" && allowed.typing === "socket" ? "socket" : "off",
    presence: wanted.presence === "socket" && allowed.presence === "socket" ? "socket" : "http",
  };
}

/** True when some feature uses the Socket.IO connection. */
export function needsSocket(modes: FeatureModes): boolean {
  return modes.messages === "socket" || modes.typing === "socket" || modes.presence === "socket";
}

export function sameModes(a: FeatureModes, b: FeatureModes): boolean {
  return a.messages === b.messages && a.typing === b.typing && a.presence === b.presence;
}

/** Follows the server's config: reads it when asked and every 5 minutes; tells when it changed. */
export class ConfigFollower {
  /** The last config read (the default until one was). */
  config: ClientConfig = DEFAULT_CLIENT_CONFIG;
  private readonly listeners = new Set<(config: ClientConfig) => void>();
  private reading: Promise<boolean> | null = null;
  private timer: unknown = undefined;
  private stopped = false;

  constructor(
    private readonly read: () => Promise<unknown>,
    private readonly timers: Timers,
    private readonly timeoutMs: number,
  ) {}

  /** Calls `listener` with each config that differs from the one before; returns the unsubscribe. */
  onChange(listener: (config: ClientConfig) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Read the config now (a read in progress is shared); resolves when it is in force, with
   * whether the server answered at all.
   */
  refresh(): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    this.reading ??= this.readOnce().finally(() => {
      this.reading = null;
      this.schedule();
    });
    return this.reading;
  }

  stop(): void {
    this.stopped = true;
    this.timers.clearTimeout(this.timer);
  }

  private async readOnce(): Promise<boolean> {
    let next: ClientConfig;
    try {
      next = parseClientConfig(await within(this.timers, this.timeoutMs, this.read()));
    } catch (error) {
      if (!(error instanceof HttpError && error.status === 404)) {
        const through = error instanceof HttpError && error.status !== 0;
        if (through) warn("could not read the client config", error);
        return through; // keep the last one read
      }
      next = DEFAULT_CLIENT_CONFIG; // a server from before PROTOCOL §7
    }
    if (this.stopped) return true;
    if (sameConfig(next, this.config)) return true;
    this.config = next;
    for (const listener of [...this.listeners]) {
      try {
        listener(next);
      } catch (error) {
        warn("a config listener failed", error);
      }
    }
    return true;
  }

  private schedule(): void {
    this.timers.clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = this.timers.setTimeout(() => void this.refresh(), CONFIG_REFRESH_MS);
  }
}

function sameConfig(a: ClientConfig, b: ClientConfig): boolean {
  return sameModes(a.features, b.features) && a.httpPollIntervalMs === b.httpPollIntervalMs;
}
