import { type ConversationInfo, ParleyClient, ParleyHttp, browserNetwork, webStorage } from "@parley/client";
import { useCallback, useEffect, useMemo, useState } from "react";

import { ConnectionStatus } from "./ConnectionStatus";
import { ConversationList } from "./ConversationList";
import { ConversationView } from "./ConversationView";
import { NewConversation } from "./NewConversation";
import { type Session, serverUrl, signInFailure, signInProblem, tokenProvider } from "./session";
import { useHashRoute } from "./useHashRoute";

/** How often the list is fetched again (new conversations others started with this user). */
const LIST_REFRESH_MS = 15_000;

interface Props {
  session: Session;
  onSignOut(reason?: string): void;
}

/** Signed in: one client for the page, the conversation list, and the open conversation. */
export function Messenger({ session, onSignOut }: Props) {
  const [client, setClient] = useState<ParleyClient | null>(null);
  const [conversations, setConversations] = useState<ConversationInfo[] | null>(null);
  const [listProblem, setListProblem] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [openId, setOpenId] = useHashRoute();
  const http = useMemo(() => new ParleyHttp({ url: serverUrl(), tokenProvider: tokenProvider(session) }), [session]);

  useEffect(() => {
    const started = new ParleyClient({
      url: serverUrl(),
      tokenProvider: tokenProvider(session),
      storage: webStorage(),
      network: browserNetwork(),
    });
    let live = true;
    const stop = started.onError((error) => {
      const problem = signInProblem(error);
      if (problem !== null && live) onSignOut(problem);
    });
    started.start().then(
      () => live && setClient(started),
      (error: unknown) => live && onSignOut(signInFailure(error)),
    );
    return () => {
      live = false;
      stop();
      void started.close();
    };
  }, [session, onSignOut]);

  const refresh = useCallback(async () => {
    try {
      const list = await http.listConversations();
      setConversations(list);
      setListProblem(null);
    } catch (error) {
      const problem = signInProblem(error);
      if (problem !== null) onSignOut(problem);
      else setListProblem(`Could not load your conversations: ${signInFailure(error)}`);
    }
  }, [http, onSignOut]);

  useEffect(() => {
    void refresh();
    const timer = window.setInterval(() => void refresh(), LIST_REFRESH_MS);
    const onFocus = () => void refresh();
    window.addEventListener("focus", onFocus);
    window.addEventListener("online", onFocus);
    return () => {
      window.clearInterval(timer);
      window.removeEventListener("focus", onFocus);
      window.removeEventListener("online", onFocus);
    };
  }, [refresh]);

  const created = useCallback(
    (conversation: ConversationInfo) => {
      setConversations((list) => [conversation, ...(list ?? []).filter((c) => c.id !== conversation.id)]);
      setCreating(false);
      setOpenId(conversation.id);
    },
    [setOpenId],
  );

  const open = conversations?.find((c) => c.id === openId) ?? null;
  const ids = conversations?.map((c) => c.id) ?? [];
  const move = useCallback(
    (step: number) => {
      if (ids.length === 0) return;
      const at = openId === null ? -1 : ids.indexOf(openId);
      const next = ids[Math.min(ids.length - 1, Math.max(0, at + step))];
      if (next !== undefined) setOpenId(next);
    },
    [ids, openId, setOpenId],
  );

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.altKey && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
        event.preventDefault();
        move(event.key === "ArrowDown" ? 1 : -1);
      } else if (event.altKey && event.key.toLowerCase() === "n") {
        event.preventDefault();
        setCreating(true);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [move]);

  return (
    <div className={`messenger ${open ? "has-open" : ""}`}>
      <header className="top-bar">
        <span className="brand">
          <img src="/favicon.svg" alt="" width="24" height="24" /> Parley
        </span>
        {client && <ConnectionStatus client={client} />}
        <span className="me">
          <bdi className="me-name" data-testid="me" title="Signed in as">
            {session.userId}
          </bdi>
          <button type="button" className="link" onClick={() => onSignOut()}>
            Sign out
          </button>
        </span>
      </header>
      <aside className="sidebar" aria-label="Conversations">
        <div className="sidebar-head">
          <h2>Conversations</h2>
          <button
            type="button"
            className="primary small"
            onClick={() => setCreating((v) => !v)}
            aria-expanded={creating}
            title="New conversation (Alt+N)"
          >
            New
          </button>
        </div>
        {creating && <NewConversation http={http} onCreated={created} onCancel={() => setCreating(false)} />}
        {listProblem && (
          <p className="alert" role="alert">
            {listProblem}
          </p>
        )}
        {client && conversations && (
          <ConversationList
            client={client}
            conversations={conversations}
            openId={openId}
            onOpen={setOpenId}
          />
        )}
        {conversations === null && !listProblem && <p className="muted pad">Loading…</p>}
      </aside>
      <main className="chat">
        {client && open ? (
          <ConversationView key={open.id} client={client} info={open} onBack={() => setOpenId(null)} />
        ) : (
          <div className="empty">
            <p>Pick a conversation, or start a new one.</p>
            <p className="hint">Alt+N new conversation · Alt+↑/↓ switch · Esc back</p>
          </div>
        )}
      </main>
    </div>
  );
}
