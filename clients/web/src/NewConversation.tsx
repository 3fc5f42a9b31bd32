import type { ConversationInfo, ParleyHttp } from "@parley/client";
import { type FormEvent, useState } from "react";

import { signInFailure } from "./session";

interface Props {
  http: ParleyHttp;
  onCreated(conversation: ConversationInfo): void;
  onCancel(): void;
}

export function NewConversation({ http, onCreated, onCancel }: Props) {
  const [members, setMembers] = useState("");
  const [title, setTitle] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const memberIds = members
    .split(/[\s,]+/)
    .map((m) => m.trim())
    .filter(Boolean);

  async function create(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      onCreated(await http.createConversation(memberIds, title.trim() || undefined));
    } catch (error) {
      setProblem(`Could not create it: ${signInFailure(error)}`);
      setBusy(false);
    }
  }

  return (
    <form
      className="new-conversation stack"
      onSubmit={create}
      onKeyDown={(e) => e.key === "Escape" && onCancel()}
      aria-label="New conversation"
    >
      <label htmlFor="members">With (names, separated by commas)</label>
      <input id="members" autoFocus placeholder="bob, carol" value={members} onChange={(e) => setMembers(e.target.value)} />
      <label htmlFor="title">Title (optional)</label>
      <input id="title" placeholder="Weekend plans" maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} />
      {problem && (
        <p className="alert" role="alert">
          {problem}
        </p>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={busy || memberIds.length === 0}>
          Create
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
