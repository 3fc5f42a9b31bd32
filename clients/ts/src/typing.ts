/**
 * Typing indicators (PROTOCOL §6, REQUIREMENTS 2.8).
 *
 * {@link TypingSender} turns keystrokes into `typing:start` (on the first one, repeated
 * at most every 3 s while typing goes on) and `typing:stop` (after 2 s without a keystroke, or on
 * send). {@link TypingWatcher} shows others' indicators until their `typing:stop` or 6 s
 * of silence, and never one's own.
 */

import { REMOTE_TYPING_TTL_MS, TYPING_IDLE_MS, TYPING_REFRESH_MS } from "./backoff.js";
import type { Timers } from "./timers.js";

export type TypingEvent = "typing:start" | "typing:stop";

export class TypingSender {
  private typing = false;
  private lastKey = 0;
  private lastStart = 0;
  private idle: { handle: unknown } | null = null;

  constructor(
    private readonly emit: (event: TypingEvent) => void,
    private readonly timers: Timers,
  ) {}

  get isTyping(): boolean {
    return this.typing;
  }

  keystroke(): void {
    const now = this.timers.now();
    this.lastKey = now;
    if (!this.typing || now - this.lastStart >= TYPING_REFRESH_MS) {
      this.typing = true;
      this.lastStart = now;
      this.emit("typing:start");
    }
    if (this.idle === null) this.checkIdleIn(TYPING_IDLE_MS);
  }

  /** On send, or when the user leaves the conversation. */
  stop(): void {
    if (this.idle !== null) this.timers.clearTimeout(this.idle.handle);
    this.idle = null;
    if (this.typing) {
      this.typing = false;
      this.emit("typing:stop");
    }
  }

  private checkIdleIn(ms: number): void {
    this.idle = {
      handle: this.timers.setTimeout(() => {
        this.idle = null;
        const wait = this.lastKey + TYPING_IDLE_MS - this.timers.now();
        if (wait > 0) this.checkIdleIn(wait);
        else this.stop();
      }, ms),
    };
  }
}

export class TypingWatcher {
  private readonly expiry = new Map<string, { handle: unknown }>();

  constructor(
    private readonly me: string,
    private readonly timers: Timers,
    private readonly onChange: () => void,
  ) {}

  /** Who is typing now (never this user), in the order they started. */
  get typingUsers(): string[] {
    return [...this.expiry.keys()];
  }

  started(userId: string): void {
    if (userId === this.me) return;
    const previous = this.expiry.get(userId);
    if (previous !== undefined) this.timers.clearTimeout(previous.handle);
    const entry = { handle: undefined as unknown };
    entry.handle = this.timers.setTimeout(() => {
      if (this.expiry.get(userId) !== entry) return;
      this.expiry.delete(userId);
      this.onChange();
    }, REMOTE_TYPING_TTL_MS);
    this.expiry.set(userId, entry);
    if (previous === undefined) this.onChange();
  }

  stopped(userId: string): void {
    const entry = this.expiry.get(userId);
    if (entry === undefined) return;
    this.timers.clearTimeout(entry.handle);
    this.expiry.delete(userId);
    this.onChange();
  }

  clear(): void {
    for (const entry of this.expiry.values()) this.timers.clearTimeout(entry.handle);
    this.expiry.clear();
  }
}
