import type { ConversationInfo, Member, Message, ParleyClient } from "@parley/client";
import { useConnectionState, useConversation } from "@parley/client/react";
import { type ReactNode, useEffect, useLayoutEffect, useRef, useState } from "react";

import { Composer } from "./Composer";
import { MessageItem } from "./MessageItem";
import { conversationName } from "./names";

interface Props {
  client: ParleyClient;
  info: ConversationInfo;
  onBack(): void;
}

export function ConversationView({ client, info, onBack }: Props) {
  const view = useConversation(client, info.id);
  const state = useConnectionState(client);
  const visible = usePageVisible();
  const me = client.userId;
  const list = useRef<HTMLOListElement>(null);
  const stick = useRef(true);

  // What is on screen is read (REQUIREMENTS 2.10.1): on every change while the page is visible.
  const { markRead, messages } = view;
  useEffect(() => {
    if (visible && state === "connected") void markRead();
  }, [visible, state, messages, markRead]);

  // Follow new messages while scrolled to the bottom.
  useLayoutEffect(() => {
    const element = list.current;
    if (element && stick.current) element.scrollTop = element.scrollHeight;
  }, [messages]);

  const others = namesOf(info, view.members, me);
  const queued = view.messages.filter((m) => m.status === "sending").length;
  return (
    <section className="conversation" aria-label={conversationName(info, me)} onKeyDown={(e) => e.key === "Escape" && onBack()}>
      <header className="conversation-head">
        <button type="button" className="back" onClick={onBack} aria-label="Back to conversations">
          ‹
        </button>
        <div className="conversation-title">
          <h2>
            <bdi>{conversationName(info, me)}</bdi>
          </h2>
          <ul className="members" aria-label="Members">
            {others.map((member) => (
              <li key={member.userId} data-testid="member" data-user={member.userId} data-online={member.online}>
                <span className={`presence ${member.online ? "online" : ""}`} aria-hidden="true" />
                <bdi>{member.userId}</bdi>
                <span className="visually-hidden">{member.online ? " (online)" : " (offline)"}</span>
              </li>
            ))}
          </ul>
        </div>
      </header>
      <ol
        className="messages"
        ref={list}
        role="log"
        aria-live="polite"
        aria-label="Messages"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
        }}
      >
        {view.messages.length === 0 && <li className="muted center">No messages yet. Say hello!</li>}
        {view.messages.map((message, index) => (
          <MessageItem
            key={message.clientMessageId}
            message={message}
            mine={message.senderId === me}
            showSender={message.senderId !== me && view.messages[index - 1]?.senderId !== message.senderId}
            queued={message.status === "sending" && state !== "connected"}
            onRetry={(m: Message) => void view.retry(m)}
          />
        ))}
      </ol>
      <p className="typing" data-testid="typing" aria-live="polite">
        {typingText(view.typingUsers)}
      </p>
      {queued > 0 && state !== "connected" && (
        <p className="queue-note" data-testid="queue-note">
          {queued === 1 ? "1 message is" : `${queued} messages are`} waiting for the connection and will be sent
          in order.
        </p>
      )}
      <Composer view={view} />
    </section>
  );
}

function namesOf(info: ConversationInfo, members: readonly Member[], me: string): Member[] {
  const known = new Map(members.map((m) => [m.userId, m]));
  return info.memberIds
    .filter((id) => id !== me)
    .map((id) => known.get(id) ?? { userId: id, online: false, lastDeliveredSeq: 0, lastReadSeq: 0 });
}

function typingText(users: readonly string[]): ReactNode {
  const [first, second] = users;
  if (first === undefined) return "";
  if (second === undefined) return <><bdi>{first}</bdi> is typing…</>;
  if (users.length === 2) return <><bdi>{first}</bdi> and <bdi>{second}</bdi> are typing…</>;
  return `${users.length} people are typing…`;
}

function usePageVisible(): boolean {
  const [visible, setVisible] = useState(() => document.visibilityState === "visible");
  useEffect(() => {
    const update = () => setVisible(document.visibilityState === "visible");
    document.addEventListener("visibilitychange", update);
    return () => document.removeEventListener("visibilitychange", update);
  }, []);
  return visible;
}
