/**
 * HTTP polling (PROTOCOL §7), for the features in `http` mode.
 *
 * Every `httpPollIntervalMs`, for each followed conversation: in `http` messages mode, its
 * sync (`GET …/messages?afterSeq=` the last seq held, then `POST …/delivered`) and, while one
 * of this user's messages is not yet read by everyone, `GET /api/conversations/{id}` for the
 * members' receipt watermarks; in `http` presence mode that GET every time, for the `online`
 * flags too. One poll at a time; the next is scheduled when it ends (a 429 makes it wait
 * `Retry-After`). While nothing gets through, polls back off like
 * reconnects (1, 2, 4 … 30 s, never more often than the interval), so a server coming back
 * up is not met by every client at once. Its state (`connected` once a poll got through,
 * `disconnected` while none does) is the client's state while messages go over HTTP.
 */

import { reconnectDelay } from "./backoff.js";
import { overHttp } from "./channels.js";
import type { FeatureModes } from "./config.js";
import { warn } from "./connection.js";
import type { Conversation } from "./conversation.js";
import { type AuthError, HttpError, NotConnected, authErrorFromHttp } from "./errors.js";
import type { ParleyHttp } from "./http.js";
import type { ConnectionState } from "./models.js";
import type { NetworkStatus } from "./network.js";
import { TimeoutError, type Timers } from "./timers.js";

export interface PollerDeps {
  http: ParleyHttp;
  timers: Timers;
  network: NetworkStatus;
  intervalMs(): number;
  modes(): FeatureModes;
  conversations(): Iterable<Conversation>;
  /** With no conversation to poll, whether the server answers (the client config's read). */
  probe(): Promise<boolean>;
  /** A poll met a refused token (HTTP 401): the client's `lastError`, as a refused handshake is. */
  onAuthError(error: AuthError): void;
  /** Called with each new state. */
  onState(state: ConnectionState): void;
  random?: (() => number) | undefined;
}

export class HttpPoller {
  state: ConnectionState = "connecting";
  private active = false;
  private timer: unknown = undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private failures = 0;
  /** The longest `Retry-After` of the last poll's 429s: the next poll waits at least that. */
  private holdOffMs = 0;

  constructor(private readonly deps: PollerDeps) {}

  /** Poll (now, then every interval) while some feature is in `http` mode; stop otherwise. */
  setActive(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    this.deps.timers.clearTimeout(this.timer);
    if (active) this.pollNow();
  }

  /** Poll now (a poll in progress is followed by one more). */
  pollNow(): void {
    if (!this.active) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.deps.timers.clearTimeout(this.timer);
    this.running = this.pollAll().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.pollNow();
      } else this.schedule();
    });
  }

  /** One conversation now (a newly followed one, or `open()` waiting for it); never rejects. */
  async pollConversation(conversation: Conversation): Promise<boolean> {
    const modes = this.deps.modes();
    const work: Array<Promise<unknown>> = [];
    if (modes.messages === "http") work.push(conversation.sync());
    if (modes.presence === "http" || (modes.messages === "http" && conversation.awaitingReceipts())) {
      work.push(
        overHttp(this.deps.timers, this.deps.http.getConversation(conversation.id)).then((info) =>
          conversation.applyMembers(info.members ?? [], { online: this.deps.modes().presence === "http" }),
        ),
      );
    }
    const results = await Promise.allSettled(work);
    let through = true;
    for (const result of results) {
      if (result.status === "fulfilled") continue;
      const error: unknown = result.reason;
      const refused = error instanceof HttpError ? authErrorFromHttp(error) : null;
      if (refused !== null) this.deps.onAuthError(refused);
      if (refused !== null || error instanceof NotConnected || error instanceof TimeoutError) through = false;
      else if (error instanceof HttpError && error.code === "rate_limited") {
        this.holdOffMs = Math.max(this.holdOffMs, error.retryAfterMs ?? 1_000); // the next poll waits
      } else warn(`polling ${conversation.id} failed`, error);
    }
    return through;
  }

  /** A request that got through outside a poll (the client config): the server is there. */
  reached(through: boolean): void {
    if (through) this.failures = 0;
    this.setState(through ? "connected" : "disconnected");
  }

  stop(): void {
    this.active = false;
    this.deps.timers.clearTimeout(this.timer);
  }

  private async pollAll(): Promise<void> {
    if (!this.deps.network.isOnline()) {
      this.failures += 1;
      this.setState("disconnected");
      return;
    }
    const conversations = [...this.deps.conversations()];
    const through =
      conversations.length === 0
        ? await this.deps.probe()
        : (await Promise.all(conversations.map((c) => this.pollConversation(c)))).some(Boolean);
    this.reached(through);
    if (!through) this.failures += 1;
  }

  private schedule(): void {
    if (!this.active) return;
    const interval = this.deps.intervalMs();
    const backoff = this.failures === 0 ? 0 : reconnectDelay(this.failures - 1, this.deps.random);
    const wait = Math.max(interval, backoff, this.holdOffMs);
    this.holdOffMs = 0;
    this.timer = this.deps.timers.setTimeout(() => this.pollNow(), wait);
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    this.deps.onState(state);
  }
}
