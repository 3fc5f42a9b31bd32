import type { ConversationView } from "@parley/client/react";
import { type FormEvent, type KeyboardEvent, useEffect, useRef, useState } from "react";

const MAX_CHARACTERS = 4000;

/** Enter sends, Shift+Enter starts a new line; every keystroke drives the typing indicator. */
export function Composer({ view }: { view: ConversationView }) {
  const [draft, setDraft] = useState("");
  const input = useRef<HTMLTextAreaElement>(null);
  const length = [...draft.trim()].length;
  const tooLong = length > MAX_CHARACTERS;

  useEffect(() => input.current?.focus(), [view.id]);

  function send(event?: FormEvent) {
    event?.preventDefault();
    if (length === 0 || tooLong) return;
    void view.send(draft.trim());
    setDraft("");
    input.current?.focus();
  }

  function onKeyDown(event: KeyboardEvent<HTMLTextAreaElement>) {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) send(event);
  }

  return (
    <form className="composer" onSubmit={send}>
      <label htmlFor="composer-input" className="visually-hidden">
        Message
      </label>
      <textarea
        id="composer-input"
        ref={input}
        rows={1}
        placeholder="Write a message…"
        value={draft}
        aria-invalid={tooLong}
        onKeyDown={onKeyDown}
        onChange={(event) => {
          setDraft(event.target.value);
          if (event.target.value) view.keystroke();
          else view.conversation.stopTyping();
        }}
      />
      {length > MAX_CHARACTERS - 200 && (
        <span className={`counter ${tooLong ? "over" : ""}`} aria-live="polite">
          {length}/{MAX_CHARACTERS}
        </span>
      )}
      <button type="submit" className="primary" disabled={length === 0 || tooLong}>
        Send
      </button>
    </form>
  );
}
