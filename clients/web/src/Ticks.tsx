import type { MessageStatus } from "@parley/client";

const LABELS: Record<MessageStatus, string> = {
  sending: "Sending",
  sent: "Sent",
  delivered: "Delivered",
  read: "Read",
  failed: "Not sent",
};

/** ✓ sent, ✓✓ delivered, blue ✓✓ read; a clock while sending or queued (REQUIREMENTS 2.10.5). */
export function Ticks({ status, queued }: { status: MessageStatus; queued: boolean }) {
  const label = queued ? "Queued" : LABELS[status];
  if (status === "failed") return null;
  if (status === "sending") {
    return (
      <span className="ticks sending" data-testid="ticks" aria-label={label} title={label}>
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" strokeWidth="1.5" />
          <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" />
        </svg>
        {queued && <span className="queued-label">Queued</span>}
      </span>
    );
  }
  const double = status !== "sent";
  return (
    <span className={`ticks ${status}`} data-testid="ticks" aria-label={label} title={label}>
      <svg viewBox="0 0 20 16" width={18} height="14" aria-hidden="true">
        <path d="M1.5 8.5l3.5 3.5 7-8" fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinecap="round" strokeLinejoin="round" />
        {double && (
          <path d="M8.5 11l1 1 7-8" fill="none" stroke="currentColor" strokeWidth="1.7" strokeLinecap="round" strokeLinejoin="round" />
        )}
      </svg>
    </span>
  );
}
