/**
 * One conversation's messages: server messages by seq, optimistic ones after them.
 *
 * Merge rules (PROTOCOL §6): a server message replaces the optimistic one with the same
 * `clientMessageId` (from this user), a message already held (same `id`) is ignored, and
 * order is by `seq`. Appending in seq order is O(1), so the store stays fast at 10,000+.
 */

import { type LocalMessage, type WireMessage, messageFromWire } from "./models.js";
import { decodeText } from "./text.js";

export class ConversationStore {
  readonly conversationId: string;
  readonly userId: string;
  private readonly bySeq = new Map<number, LocalMessage>();
  private readonly seqs: number[] = [];
  private readonly ids = new Set<string>();
  /** clientMessageId → optimistic message, in send order. */
  private readonly pendingById = new Map<string, LocalMessage>();
  private contiguous = 0;

  constructor(conversationId: string, userId: string) {
    this.conversationId = conversationId;
    this.userId = userId;
  }

  /** The highest n such that messages 1..n are all held: what to sync after. */
  get contiguousSeq(): number {
    return this.contiguous;
  }

  get lastSeq(): number {
    return this.seqs.length > 0 ? (this.seqs[this.seqs.length - 1] ?? 0) : 0;
  }

  get size(): number {
    return this.seqs.length + this.pendingById.size;
  }

  /** Stored messages in seq order, then the ones still being sent, in send order. */
  messages(): LocalMessage[] {
    const stored = this.seqs.map((seq) => this.bySeq.get(seq) as LocalMessage);
    return stored.concat([...this.pendingById.values()]);
  }

  pending(clientMessageId: string): LocalMessage | undefined {
    return this.pendingById.get(clientMessageId);
  }

  addLocal(message: LocalMessage): void {
    this.pendingById.set(message.clientMessageId, message);
  }

  /** The server stored our message: give the optimistic entry its id and seq. */
  confirm(clientMessageId: string, wire: WireMessage): LocalMessage {
    const message = this.pendingById.get(clientMessageId);
    if (message === undefined) return this.merge(wire);
    this.pendingById.delete(clientMessageId);
    if (this.ids.has(wire.id)) return this.bySeq.get(wire.seq) as LocalMessage;
    message.id = wire.id;
    message.seq = wire.seq;
    message.createdAt = wire.createdAt;
    message.body = wire.body; // as stored: escaped
    message.text = decodeText(wire.body);
    message.status = "sent";
    message.error = null;
    this.insert(message);
    return message;
  }

  /** A message from the server (live or synced); returns what the store holds for it. */
  merge(wire: WireMessage): LocalMessage {
    if (this.ids.has(wire.id)) return this.bySeq.get(wire.seq) as LocalMessage;
    if (wire.senderId === this.userId && this.pendingById.has(wire.clientMessageId)) {
      return this.confirm(wire.clientMessageId, wire);
    }
    const message = messageFromWire(wire);
    this.insert(message);
    return message;
  }

  private insert(message: LocalMessage): void {
    const seq = message.seq as number;
    if (this.bySeq.has(seq)) return; // a seq is one message: never two
    this.bySeq.set(seq, message);
    this.ids.add(message.id as string);
    const last = this.seqs[this.seqs.length - 1];
    if (last === undefined || seq > last) {
      this.seqs.push(seq);
    } else {
      this.seqs.splice(insertionPoint(this.seqs, seq), 0, seq);
    }
    while (this.bySeq.has(this.contiguous + 1)) this.contiguous += 1;
  }
}

function insertionPoint(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle] as number) < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
