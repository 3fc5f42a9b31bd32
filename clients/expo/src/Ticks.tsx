import type { MessageStatus } from "@parley/client";
import { Text } from "react-native";

import { colors } from "./theme";

/** What each state of a message is called (and read out by screen readers). */
export function statusLabel(status: MessageStatus, queued: boolean): string {
  if (status === "sending") return queued ? "Queued" : "Sending";
  return { sent: "Sent", delivered: "Delivered", read: "Read", failed: "Not sent" }[status];
}

/** ✓ sent, ✓✓ delivered, blue ✓✓ read; "sending" / "queued" in words until the server has it. */
export function Ticks({ status, queued }: { status: MessageStatus; queued: boolean }) {
  const label = statusLabel(status, queued);
  if (status === "failed") return null;
  if (status === "sending") {
    return (
      <Text testID="ticks" accessibilityLabel={label} style={{ color: colors.muted, fontSize: 12 }}>
        {queued ? "queued" : "sending"}
      </Text>
    );
  }
  return (
    <Text
      testID="ticks"
      accessibilityLabel={label}
      style={{ color: status === "read" ? colors.read : colors.muted, fontSize: 13, fontWeight: "700" }}
    >
      {status === "sent" ? "✓" : "✓✓"}
    </Text>
  );
}
