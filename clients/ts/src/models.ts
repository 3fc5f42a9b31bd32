/** What the SDK hands to apps: messages as the user sees them, members, connection state. */

import type { ParleyError } from "./errors.js";
import { decodeText } from "./text.js";

export type ConnectionState = "connecting" | "connected" | "disconnected";

/**
 * - `sending`: shown at once; queued while offline; retried with the same key
 * - `sent`: stored by the server (has `id` and `seq`)
 * - `delivered`: every other member received it
 * - `read`: every other member saw it
 * - `failed`: gave up (or refused): retry by hand with `conversation.retry(message)`
 */
export type MessageStatus = "sending" | "sent" | "delivered" | "read" | "failed";

/** A message as the server sends it (PROTOCOL §4.1). */
export interface WireMessage {
  id: string;
  conversationId: string;
  senderId: string;
  clientMessageId: string;
  body: string;
  seq: number;
  createdAt: string;
}

/**
 * One message as an app shows it. `id`/`seq`/`createdAt` are null until the server stored it.
 * Show `text`; `body` is as on the wire (PROTOCOL §4.2: `&`, `<`, `>` escaped as entities).
 */
export interface Message {
  readonly conversationId: string;
  readonly clientMessageId: string;
  readonly senderId: string;
  /** As on the wire: escaped. Never render it as HTML or send it again. */
  readonly body: string;
  /** What the sender typed (normalized): `body` decoded. Show this; quote or forward this. */
  readonly text: string;
  readonly id: string | null;
  readonly seq: number | null;
  readonly createdAt: string | null;
  readonly status: MessageStatus;
  /** Why it is `failed`. */
  readonly error: ParleyError | null;
}

/** The store's own, mutable copy. */
export interface LocalMessage {
  conversationId: string;
  clientMessageId: string;
  senderId: string;
  body: string;
  text: string;
  id: string | null;
  seq: number | null;
  createdAt: string | null;
  status: MessageStatus;
  error: ParleyError | null;
}

export interface Member {
  readonly userId: string;
  readonly online: boolean;
  readonly lastDeliveredSeq: number;
  readonly lastReadSeq: number;
}

export function messageFromWire(wire: WireMessage): LocalMessage {
  return {
    conversationId: wire.conversationId,
    clientMessageId: wire.clientMessageId,
    senderId: wire.senderId,
    body: wire.body,
    text: decodeText(wire.body),
    id: wire.id,
    seq: wire.seq,
    createdAt: wire.createdAt,
    status: "sent",
    error: null,
  };
}

export function memberFromWire(wire: Record<string, unknown>): Member {
  return {
    userId: String(wire["userId"]),
    online: Boolean(wire["online"]),
    lastDeliveredSeq: Number(wire["lastDeliveredSeq"] ?? 0) || 0,
    lastReadSeq: Number(wire["lastReadSeq"] ?? 0) || 0,
  };
}
