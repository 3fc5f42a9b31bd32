import { type FormEvent, useState } from "react";

import { type Session, devSignIn, signInFailure, tokenSignIn } from "./session";

interface Props {
  /** Why the last session ended (expired token, …), shown above the form. */
  notice: string | null;
  onSignedIn(session: Session): void;
}

export function SignIn({ notice, onSignedIn }: Props) {
  const [name, setName] = useState("");
  const [token, setToken] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function withName(event: FormEvent) {
    event.preventDefault();
    if (!name.trim()) return;
    setBusy(true);
    try {
      onSignedIn(await devSignIn(name.trim()));
    } catch (error) {
      setProblem(signInFailure(error));
      setBusy(false);
    }
  }

  function withToken(event: FormEvent) {
    event.preventDefault();
    try {
      onSignedIn(tokenSignIn(token));
    } catch (error) {
      setProblem(signInFailure(error));
    }
  }

  const message = problem ?? notice;
  return (
    <main className="sign-in">
      <div className="sign-in-card">
        <h1>
          <img src="/favicon.svg" alt="" width="32" height="32" /> Parley
        </h1>
        <p className="lead">Chat that feels instant and never loses a message.</p>
        {message && (
          <p className="alert" role="alert" data-testid="sign-in-problem">
            {message}
          </p>
        )}
        <form onSubmit={withName} className="stack">
          <label htmlFor="user-id">Your name</label>
          <input
            id="user-id"
            name="user-id"
            autoFocus
            autoComplete="username"
            placeholder="alice"
            value={name}
            maxLength={200}
            onChange={(e) => setName(e.target.value)}
          />
          <button type="submit" className="primary" disabled={busy || !name.trim()}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
          <p className="hint">
            Sign-in by name works on servers in <code>DEV_MODE</code> (<code>make run</code>).
          </p>
        </form>
        <details className="token-sign-in">
          <summary>Sign in with a token</summary>
          <form onSubmit={withToken} className="stack">
            <label htmlFor="token">Token from your app's backend (JWT)</label>
            <textarea
              id="token"
              name="token"
              rows={3}
              spellCheck={false}
              placeholder="eyJhbGciOi…"
              value={token}
              onChange={(e) => setToken(e.target.value)}
            />
            <button type="submit" disabled={!token.trim()}>
              Sign in with token
            </button>
          </form>
        </details>
      </div>
    </main>
  );
}
