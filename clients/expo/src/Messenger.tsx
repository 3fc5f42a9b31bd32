import { type ConversationInfo, type ParleyClient, ParleyHttp } from "@parley/client";
import { useConnectionState } from "@parley/client/react";
import { useCallback, useEffect, useMemo, useState } from "react";
import { ActivityIndicator, AppState, View } from "react-native";

import { ConnectionBanner } from "./ConnectionBanner";
import { ConversationList } from "./ConversationList";
import { ConversationScreen } from "./ConversationScreen";
import { NewConversation } from "./NewConversation";
import { createClient } from "./parley";
import { type Session, signInFailure, signInProblem, tokenProvider } from "./session";

/** How often the list is fetched again (conversations others started with this user). */
const LIST_REFRESH_MS = 15_000;

interface Props {
  session: Session;
  onSignOut(reason?: string): void;
}

type Screen = { name: "list" } | { name: "new" } | { name: "conversation"; id: string };

/** Signed in: one client for the app, and a phone's navigation: list → conversation. */
export function Messenger({ session, onSignOut }: Props) {
  const [client, setClient] = useState<ParleyClient | null>(null);

  useEffect(() => {
    const started = createClient(session);
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

  if (client === null) {
    return (
      <View style={{ flex: 1, justifyContent: "center" }}>
        <ActivityIndicator />
      </View>
    );
  }
  return <Signedin client={client} session={session} onSignOut={onSignOut} />;
}

function Signedin({ client, session, onSignOut }: Props & { client: ParleyClient }) {
  const state = useConnectionState(client);
  const http = useMemo(() => new ParleyHttp({ url: session.server, tokenProvider: tokenProvider(session) }), [session]);
  const [conversations, setConversations] = useState<ConversationInfo[] | null>(null);
  const [listProblem, setListProblem] = useState<string | null>(null);
  const [screen, setScreen] = useState<Screen>({ name: "list" });

  const refresh = useCallback(async () => {
    try {
      setConversations(await http.listConversations());
      setListProblem(null);
    } catch (error) {
      const problem = signInProblem(error);
      if (problem !== null) onSignOut(problem);
      else setListProblem(`Could not load your conversations: ${signInFailure(error)}`);
    }
  }, [http, onSignOut]);

  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), LIST_REFRESH_MS);
    const foreground = AppState.addEventListener("change", (next) => next === "active" && void refresh());
    return () => {
      clearInterval(timer);
      foreground.remove();
    };
  }, [refresh]);

  useEffect(() => {
    if (state === "connected") void refresh();
  }, [state, refresh]);

  const created = useCallback((conversation: ConversationInfo) => {
    setConversations((list) => [conversation, ...(list ?? []).filter((c) => c.id !== conversation.id)]);
    setScreen({ name: "conversation", id: conversation.id });
  }, []);

  const open = screen.name === "conversation" ? conversations?.find((c) => c.id === screen.id) : undefined;

  return (
    <View style={{ flex: 1 }}>
      <ConnectionBanner client={client} state={state} />
      {screen.name === "new" ? (
        <NewConversation http={http} onCreated={created} onCancel={() => setScreen({ name: "list" })} />
      ) : screen.name === "conversation" && open !== undefined ? (
        <ConversationScreen client={client} info={open} onBack={() => setScreen({ name: "list" })} />
      ) : (
        <ConversationList
          client={client}
          userId={session.userId}
          conversations={conversations}
          problem={listProblem}
          onOpen={(id) => setScreen({ name: "conversation", id })}
          onNew={() => setScreen({ name: "new" })}
          onRefresh={refresh}
          onSignOut={() => onSignOut()}
        />
      )}
    </View>
  );
}
