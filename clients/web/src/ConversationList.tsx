import type { ConversationInfo, ParleyClient } from "@parley/client";
import { useConversation } from "@parley/client/react";

import { conversationName } from "./names";

interface Props {
  client: ParleyClient;
  conversations: ConversationInfo[];
  openId: string | null;
  onOpen(id: string): void;
}

export function ConversationList({ client, conversations, openId, onOpen }: Props) {
  if (conversations.length === 0) {
    return <p className="muted pad">No conversations yet. Start one with New.</p>;
  }
  return (
    <ul className="conversation-list">
      {conversations.map((info) => (
        <Item key={info.id} client={client} info={info} active={info.id === openId} onOpen={onOpen} />
      ))}
    </ul>
  );
}

interface ItemProps {
  client: ParleyClient;
  info: ConversationInfo;
  active: boolean;
  onOpen(id: string): void;
}

/** Following every listed conversation is what delivers its messages (✓✓) before it is opened. */
function Item({ client, info, active, onOpen }: ItemProps) {
  const view = useConversation(client, info.id);
  const othersOnline = view.onlineUsers.filter((u) => u !== client.userId);
  const last = view.messages.at(-1);
  const name = conversationName(info, client.userId);
  return (
    <li>
      <button
        type="button"
        className={`conversation-item ${active ? "active" : ""}`}
        aria-current={active ? "true" : undefined}
        data-testid="conversation-item"
        data-id={info.id}
        onClick={() => onOpen(info.id)}
      >
        <span className={`presence ${othersOnline.length > 0 ? "online" : ""}`} aria-hidden="true" />
        <span className="conversation-text">
          <bdi className="conversation-name">{name}</bdi>
          <span className="conversation-last">
            {last ? (
              <>
                {last.senderId === client.userId ? "You: " : ""}
                <bdi>{last.text}</bdi>
              </>
            ) : (
              "No messages yet"
            )}
          </span>
        </span>
        {view.unread > 0 && !active && (
          <span className="badge" aria-label={`${view.unread} unread`}>
            {view.unread}
          </span>
        )}
      </button>
    </li>
  );
}
