/** One conversation as an app sees it: its messages, members, typing, and what to send. */

import { REQUEST_TIMEOUT_MS } from "./backoff.js";
import type { MessagesChannel } from "./channels.js";
import type { FeatureModes } from "./config.js";
import type { Connection } from "./connection.js";
import { warn } from "./connection.js";
import { NotConnected, ParleyError, errorFromAck, isRecord } from "./errors.js";
import {
  type LocalMessage,
  type Member,
  type Message,
  type MessageStatus,
  type WireMessage,
  memberFromWire,
} from "./models.js";
import type { Outbox, OutboxItem } from "./outbox.js";
import type { Outcome } from "./sender.js";
import { ConversationStore } from "./store.js";
import { encodeText, normalizeText } from "./text.js";
import { TimeoutError, type Timers, within } from "./timers.js";
import { TypingSender, TypingWatcher } from "./typing.js";

/** Everything to render, as one immutable value that changes identity on every change. */
export interface ConversationSnapshot {
  readonly id: string;
  /** In order: stored messages by seq, then the ones being sent; statuses up to date. */
  readonly messages: readonly Message[];
  readonly members: readonly Member[];
  /** Members online in this conversation (this user included while connected). */
  readonly onlineUsers: readonly string[];
  /** Others typing now (never this user). */
  readonly typingUsers: readonly string[];
  /** Messages from others this user has not marked read. */
  readonly unread: number;
  readonly joined: boolean;
}

type Listener = (conversation: Conversation) => void;

export interface ConversationDeps {
  userId: string;
  connection: Pick<Connection, "connected" | "call" | "emit">;
  /** The channel for sync and receipts in the current messages mode (socket or HTTP). */
  channel: () => MessagesChannel;
  /** The modes in force now (the app's choice capped by the server's config). */
  modes: () => FeatureModes;
  outbox: Outbox;
  timers: Timers;
  newId: () => string;
}

export class Conversation {
  readonly id: string;
  readonly userId: string;
  readonly store: ConversationStore;
  readonly typing: TypingWatcher;
  joined = false;
  private members = new Map<string, Member>();
  private readonly deps: ConversationDeps;
  private readonly listeners = new Set<Listener>();
  private readonly typingSender: TypingSender;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private deliveredSent = 0;
  private readSent = 0;
  private cached: ConversationSnapshot | null = null;
  /** The messages part of the snapshot: rebuilt only when messages or receipts change, not on typing. */
  private cachedMessages: readonly Message[] | null = null;

  /** Created by `ParleyClient.conversation()` / `open()`; kept in sync by the client. */
  constructor(id: string, deps: ConversationDeps) {
    this.id = id;
    this.userId = deps.userId;
    this.deps = deps;
    this.store = new ConversationStore(id, deps.userId);
    this.typingSender = new TypingSender(
      (event) => deps.connection.emit(event, { conversationId: id }),
      deps.timers,
    );
    this.typing = new TypingWatcher(deps.userId, deps.timers, () => this.changed({ messages: false }));
  }

  // ---- for apps --------------------------------------------------------------------------

  /** Everything to show, in order; each message's `status` is up to date. */
  messages(): Message[] {
    return this.store.messages().map((message) => ({ ...message, status: this.statusOf(message) }));
  }

  /** The current state as one immutable value (cached until the next change: cheap to call). */
  snapshot(): ConversationSnapshot {
    if (this.cached === null) {
      this.cached = Object.freeze({
        id: this.id,
        messages: (this.cachedMessages ??= Object.freeze(this.messages())),
        members: Object.freeze([...this.members.values()]),
        onlineUsers: Object.freeze(this.onlineUsers),
        typingUsers: Object.freeze(this.typing.typingUsers),
        unread: this.unread(),
        joined: this.joined,
      });
    }
    return this.cached;
  }

  /** Calls `listener` whenever messages, members, typing or statuses change; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Show `text` at once as `sending` and queue it; it is sent (and retried) in order. `text` is
   * plain text as typed (the server escapes it); to quote or forward a message, pass its `text`,
   * never its `body`.
   */
  async send(text: string): Promise<Message> {
    const message: LocalMessage = {
      conversationId: this.id,
      clientMessageId: this.deps.newId(),
      senderId: this.userId,
      body: encodeText(text), // as the server will store it, until it answers with its own
      text: normalizeText(text),
      id: null,
      seq: null,
      createdAt: null,
      status: "sending",
      error: null,
    };
    this.typingSender.stop();
    this.store.addLocal(message);
    this.changed();
    await this.deps.outbox.put({ conversationId: this.id, clientMessageId: message.clientMessageId, body: text });
    return { ...message };
  }

  /** Send a `failed` message again, with its original `clientMessageId`. */
  async retry(message: Pick<Message, "clientMessageId">): Promise<void> {
    const local = this.store.pending(message.clientMessageId);
    if (local === undefined || local.status !== "failed") return;
    local.status = "sending";
    local.error = null;
    this.changed();
    // The decoded text: sending the body would escape it a second time.
    await this.deps.outbox.put({ conversationId: this.id, clientMessageId: local.clientMessageId, body: local.text });
  }

  /** The user typed: `typing:start` now, `typing:stop` after 2 s without another (nothing when typing is `off`). */
  keystroke(): void {
    if (this.deps.modes().typing === "socket") this.typingSender.keystroke();
  }

  /** The user cleared the draft or left: `typing:stop` now if it was sent. */
  stopTyping(): void {
    this.typingSender.stop();
  }

  /** The user saw everything up to `upToSeq` (default: everything held without a gap). */
  async markRead(upToSeq?: number): Promise<void> {
    const seq = upToSeq ?? this.store.contiguousSeq;
    const channel = this.deps.channel();
    if (seq <= this.readSent || !channel.available) return;
    const before = this.readSent;
    this.readSent = seq;
    this.changed();
    try {
      await channel.receipt(this.id, "read", seq);
    } catch (error) {
      this.readSent = before; // asked again at the next call
      throw error;
    }
  }

  /** Whether receipts can still change a status: members unknown, or a message of this user not read by everyone. */
  awaitingReceipts(): boolean {
    if (this.members.size === 0) return true;
    if (![...this.members.keys()].some((userId) => userId !== this.userId)) return false; // no one else to read
    return this.store.messages().some((m) => m.senderId === this.userId && m.seq !== null && this.statusOf(m) !== "read");
  }

  get onlineUsers(): string[] {
    return [...this.members.values()].filter((m) => m.online).map((m) => m.userId);
  }

  member(userId: string): Member | undefined {
    return this.members.get(userId);
  }

  /** PROTOCOL §4.6, as the sender sees it; others' messages are simply `sent`. */
  statusOf(message: Pick<LocalMessage, "seq" | "status" | "senderId">): MessageStatus {
    const seq = message.seq;
    if (seq === null || message.status === "sending" || message.status === "failed") return message.status;
    if (message.senderId !== this.userId) return "sent";
    const others = [...this.members.values()].filter((m) => m.userId !== this.userId);
    if (others.length === 0) return "sent";
    if (others.every((m) => m.lastReadSeq >= seq)) return "read";
    if (others.every((m) => m.lastDeliveredSeq >= seq)) return "delivered";
    return "sent";
  }

  // ---- driven by the client ------------------------------------------------------------------

  async joinAndSync(): Promise<void> {
    const snapshot = await this.request("conversation:join", { conversationId: this.id });
    this.joined = true;
    this.applyMembers(Array.isArray(snapshot["members"]) ? snapshot["members"] : [], { online: true });
    await this.sync();
    if (Number(snapshot["lastSeq"] ?? 0) > this.store.contiguousSeq) await this.sync();
  }

  /** Fetch everything after the last seq held (concurrent calls share one run). */
  sync(): Promise<void> {
    if (this.syncing !== null) {
      this.syncAgain = true;
      return this.syncing;
    }
    const run = this.syncPages().finally(() => {
      this.syncing = null;
    });
    this.syncing = run;
    return run;
  }

  messageNew(wire: WireMessage): void {
    const before = this.store.contiguousSeq;
    this.store.merge(wire);
    this.changed();
    if (wire.seq > before + 1) this.background(this.sync()); // a gap: fetch what was skipped
    else this.background(this.acknowledgeDelivery());
  }

  sent(item: OutboxItem, outcome: Outcome): void {
    if (outcome instanceof ParleyError) {
      const message = this.store.pending(item.clientMessageId);
      if (message !== undefined) {
        message.status = "failed";
        message.error = outcome;
      }
    } else {
      this.store.confirm(item.clientMessageId, outcome.message);
    }
    this.changed();
  }

  /** A message left unsent by a previous run: show it as sending again. */
  restore(item: OutboxItem): void {
    this.store.addLocal({
      conversationId: this.id,
      clientMessageId: item.clientMessageId,
      senderId: this.userId,
      body: encodeText(item.body),
      text: normalizeText(item.body),
      id: null,
      seq: null,
      createdAt: null,
      status: "sending",
      error: null,
    });
    this.changed();
  }

  /**
   * Members as the server listed them (a join, or `GET /api/conversations/{id}` when polling):
   * watermarks only move forward; `online` flags are taken when `online` is set (presence from
   * this source), else kept.
   */
  applyMembers(wire: readonly unknown[], { online }: { online: boolean }): void {
    const next = new Map<string, Member>();
    for (const raw of wire.filter(isRecord)) {
      const member = memberFromWire(raw);
      const held = this.members.get(member.userId);
      next.set(member.userId, {
        userId: member.userId,
        online: online || held === undefined ? member.online : held.online,
        lastDeliveredSeq: Math.max(member.lastDeliveredSeq, held?.lastDeliveredSeq ?? 0),
        lastReadSeq: Math.max(member.lastReadSeq, held?.lastReadSeq ?? 0),
      });
    }
    this.members = next;
    const me = this.members.get(this.userId);
    if (me !== undefined) this.readSent = Math.max(this.readSent, me.lastReadSeq);
    this.changed();
  }

  presence(userId: string, online: boolean): void {
    this.updateMember(userId, { online });
  }

  receipt(kind: "delivered" | "read", userId: string, upToSeq: number): void {
    const member = this.members.get(userId) ?? memberFromWire({ userId });
    this.updateMember(userId, {
      lastDeliveredSeq: Math.max(member.lastDeliveredSeq, upToSeq),
      lastReadSeq: kind === "read" ? Math.max(member.lastReadSeq, upToSeq) : member.lastReadSeq,
    });
    if (userId === this.userId && kind === "read") this.readSent = Math.max(this.readSent, upToSeq);
  }

  /** The socket is gone (or the conversation was left): not joined, no typing; online flags cleared unless polled. */
  disconnected(): void {
    this.joined = false;
    this.typing.clear();
    if (this.deps.modes().presence === "socket") {
      for (const member of this.members.values()) this.members.set(member.userId, { ...member, online: false });
    }
    this.changed();
  }

  /** Typing was turned `off`: stop sending it and hide others'. */
  typingOff(): void {
    this.typingSender.stop();
    this.typing.clear();
    this.changed({ messages: false });
  }

  // ---- internals ---------------------------------------------------------------------------

  private async syncPages(): Promise<void> {
    do {
      this.syncAgain = false;
      for (;;) {
        const before = this.store.contiguousSeq;
        const page = await this.deps.channel().page(this.id, before);
        for (const wire of page.messages) this.store.merge(wire);
        if (!page.hasMore || page.messages.length === 0 || this.store.contiguousSeq === before) break;
      }
    } while (this.syncAgain);
    this.changed();
    await this.acknowledgeDelivery();
  }

  private async acknowledgeDelivery(): Promise<void> {
    const seq = this.store.contiguousSeq;
    const channel = this.deps.channel();
    if (seq <= this.deliveredSent || !channel.available) return;
    const before = this.deliveredSent;
    this.deliveredSent = seq;
    try {
      await channel.receipt(this.id, "delivered", seq);
    } catch (error) {
      if (this.deliveredSent === seq) this.deliveredSent = before; // sent again at the next sync
      throw error;
    }
  }

  private async request(event: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    const ack = await within(this.deps.timers, REQUEST_TIMEOUT_MS, this.deps.connection.call(event, payload));
    if (!isRecord(ack) || ack["ok"] !== true) throw errorFromAck(ack);
    return ack;
  }

  private unread(): number {
    const read = Math.max(this.readSent, this.members.get(this.userId)?.lastReadSeq ?? 0);
    let count = 0;
    for (const message of this.store.messages()) {
      if (message.seq !== null && message.seq > read && message.senderId !== this.userId) count += 1;
    }
    return count;
  }

  private updateMember(userId: string, change: Partial<Member>): void {
    const member = this.members.get(userId) ?? memberFromWire({ userId });
    this.members.set(userId, { ...member, ...change, userId });
    this.changed();
  }

  private background(work: Promise<void>): void {
    work.catch((error: unknown) => {
      // Offline or slow: the next (re)connect or position check syncs again.
      if (!(error instanceof NotConnected || error instanceof TimeoutError)) {
        warn(`conversation ${this.id}: retried at the next sync`, error);
      }
    });
  }

  /** Tell the listeners (and drop the cached snapshot). */
  changed({ messages = true }: { messages?: boolean } = {}): void {
    this.cached = null;
    if (messages) this.cachedMessages = null;
    for (const listener of [...this.listeners]) {
      try {
        listener(this);
      } catch (error) {
        warn("a conversation listener failed", error);
      }
    }
  }
}
