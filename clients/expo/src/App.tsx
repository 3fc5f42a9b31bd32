import { StatusBar } from "expo-status-bar";
import { useCallback, useEffect, useState } from "react";
import { ActivityIndicator, View } from "react-native";

import { Messenger } from "./Messenger";
import { type Session, clearSession, loadSession, saveSession } from "./session";
import { SignIn } from "./SignIn";
import { ui } from "./theme";

/** Signed out: the sign-in screen; signed in: the messenger. The session survives restarts. */
export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    void loadSession().then(setSession);
  }, []);

  const signedIn = useCallback((next: Session) => {
    setNotice(null);
    setSession(next);
    void saveSession(next);
  }, []);

  const signOut = useCallback((reason?: string) => {
    setNotice(reason ?? null);
    setSession(null);
    void clearSession();
  }, []);

  return (
    <View style={ui.screen}>
      <StatusBar style="dark" />
      {session === undefined ? (
        <View style={{ flex: 1, justifyContent: "center" }}>
          <ActivityIndicator />
        </View>
      ) : session === null ? (
        <SignIn notice={notice} onSignedIn={signedIn} />
      ) : (
        <Messenger session={session} onSignOut={signOut} />
      )}
    </View>
  );
}
