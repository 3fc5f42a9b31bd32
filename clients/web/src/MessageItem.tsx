import type { Message, ParleyError } from "@parley/client";
import { memo } from "react";

import { clockTime } from "./names";
import { Ticks } from "./Ticks";

interface Props {
  message: Message;
  mine: boolean;
  showSender: boolean;
  /** Waiting for the connection (sending while offline). */
  queued: boolean;
  onRetry(message: Message): void;
}

/**
 * One message, shown as it was typed: its decoded `text` (the wire `body` is escaped, PROTOCOL
 * §4.2), as a React text node, never parsed as HTML. Sender and text are bidi-isolated
 * (`<bdi>`, `dir="auto"`), so right-to-left text or a bidi control in them cannot reorder what
 * is around them.
 */
export const MessageItem = memo(function MessageItem({ message, mine, showSender, queued, onRetry }: Props) {
  const failed = message.status === "failed";
  return (
    <li
      className={`message ${mine ? "mine" : "theirs"} ${failed ? "failed" : ""}`}
      data-testid="message"
      data-status={message.status}
      data-queued={queued}
      data-seq={message.seq ?? undefined}
    >
      {showSender && <bdi className="sender">{message.senderId}</bdi>}
      <div className="bubble">
        <p className="body" dir="auto">
          {message.text}
        </p>
        <span className="meta">
          <time dateTime={message.createdAt ?? undefined}>{clockTime(message.createdAt)}</time>
          {mine && <Ticks status={message.status} queued={queued} />}
        </span>
      </div>
      {failed && (
        <p className="send-failure" role="alert" data-testid="send-failure">
          <span>Not sent: {failureText(message.error)}</span>
          <button type="button" className="retry" onClick={() => onRetry(message)}>
            Retry
          </button>
        </p>
      )}
    </li>
  );
});

/** Why a message was not sent, in words (PROTOCOL §3 codes). */
export function failureText(error: ParleyError | null): string {
  switch (error?.code) {
    case "invalid_payload":
      return "the server refused it (empty, or over 4000 characters).";
    case "forbidden":
      return "you are no longer a member of this conversation.";
    case "not_found":
      return "this conversation no longer exists.";
    case "unavailable":
      return "the server is unavailable (tried 4 times).";
    case "internal":
      return "the server had a problem.";
    default:
      return error?.message ?? "unknown error.";
  }
}
