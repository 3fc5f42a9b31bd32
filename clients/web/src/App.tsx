import { useCallback, useState } from "react";

import { Messenger } from "./Messenger";
import { type Session, clearSession, loadSession, saveSession } from "./session";
import { SignIn } from "./SignIn";

/** Signed out: the sign-in form (with why, if the server ended the session). Signed in: the messenger. */
export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [notice, setNotice] = useState<string | null>(null);

  const signedIn = useCallback((next: Session) => {
    saveSession(next);
    setNotice(null);
    setSession(next);
  }, []);
  const signOut = useCallback((reason?: string) => {
    clearSession();
    setNotice(reason ?? null);
    setSession(null);
  }, []);

  if (session === null) return <SignIn notice={notice} onSignedIn={signedIn} />;
  return <Messenger key={`${session.userId}/${session.mode}`} session={session} onSignOut={signOut} />;
}
