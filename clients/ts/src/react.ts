/**
 * React (and React Native) bindings: `useConversation` and `useConnectionState`.
 * Imported from `@parley/client/react`; React is an optional peer dependency.
 */

import { useCallback, useMemo, useSyncExternalStore } from "react";

import type { ParleyClient } from "./client.js";
import type { Conversation, ConversationSnapshot } from "./conversation.js";
import type { ConnectionState, Message } from "./models.js";

/** The connection state, re-rendering on every change. */
export function useConnectionState(client: ParleyClient): ConnectionState {
  const subscribe = useCallback((notify: () => void) => client.onStateChange(notify), [client]);
  return useSyncExternalStore(subscribe, () => client.state, () => client.state);
}

export interface ConversationView extends ConversationSnapshot {
  conversation: Conversation;
  /** Show at once as `sending`, then send (queued while offline). */
  send(body: string): Promise<Message>;
  /** Send a `failed` message again. */
  retry(message: Pick<Message, "clientMessageId">): Promise<void>;
  /** Call on every keystroke in the composer (typing indicators). */
  keystroke(): void;
  /** The user saw everything held (call while the conversation is on screen). */
  markRead(): Promise<void>;
}

/**
 * Follow `conversationId` (joined and synced now and after every reconnect) and re-render
 * on every change of its messages, statuses, members, presence and typing.
 * The client must have been started (`await client.start()`).
 */
export function useConversation(client: ParleyClient, conversationId: string): ConversationView {
  const conversation = useMemo(() => client.conversation(conversationId), [client, conversationId]);
  const subscribe = useCallback((notify: () => void) => conversation.subscribe(notify), [conversation]);
  const snapshot = useSyncExternalStore(
    subscribe,
    () => conversation.snapshot(),
    () => conversation.snapshot(),
  );
  return useMemo(
    () => ({
      ...snapshot,
      conversation,
      send: (body: string) => conversation.send(body),
      retry: (message: Pick<Message, "clientMessageId">) => conversation.retry(message),
      keystroke: () => conversation.keystroke(),
      markRead: () => conversation.markRead().catch(() => undefined),
    }),
    [snapshot, conversation],
  );
}
