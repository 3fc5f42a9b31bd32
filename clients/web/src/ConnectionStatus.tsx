import type { ParleyClient } from "@parley/client";
import { useConnectionState } from "@parley/client/react";
import { useEffect, useState } from "react";

/** Connected / connecting / offline, always in view (REQUIREMENTS 2.6.2). */
export function ConnectionStatus({ client }: { client: ParleyClient }) {
  const state = useConnectionState(client);
  const online = useBrowserOnline();
  const label =
    state === "connected"
      ? "Connected"
      : state === "connecting"
        ? "Connecting…"
        : online
          ? "Disconnected, retrying…"
          : "Offline: messages will be sent when you are back";
  return (
    <span className={`connection ${state}`} data-testid="connection" data-state={state} role="status">
      <span className="dot" aria-hidden="true" />
      <span className="connection-label">{label}</span>
      {state === "disconnected" && online && (
        <button type="button" className="link" onClick={() => client.reconnectNow()}>
          Retry now
        </button>
      )}
    </span>
  );
}

function useBrowserOnline(): boolean {
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    const update = () => setOnline(navigator.onLine);
    window.addEventListener("online", update);
    window.addEventListener("offline", update);
    return () => {
      window.removeEventListener("online", update);
      window.removeEventListener("offline", update);
    };
  }, []);
  return online;
}
