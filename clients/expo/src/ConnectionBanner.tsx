import type { ConnectionState, ParleyClient } from "@parley/client";
import { Pressable, Text, View } from "react-native";

import { colors } from "./theme";

const WORDS: Record<ConnectionState, string> = {
  connected: "Connected",
  connecting: "Connecting…",
  disconnected: "Offline: messages are queued and sent when you are back",
};

/** A banner while not connected (hidden once connected); tap to retry at once. */
export function ConnectionBanner({ client, state }: { client: ParleyClient; state: ConnectionState }) {
  const connected = state === "connected";
  return (
    <View testID={`connection-${state}`} accessibilityLiveRegion="polite">
      {!connected && (
        <Pressable
          accessibilityRole="button"
          accessibilityLabel={WORDS[state]}
          onPress={() => client.reconnectNow()}
          style={{ backgroundColor: state === "connecting" ? "#fef3c7" : "#fee2e2", padding: 8 }}
        >
          <Text style={{ textAlign: "center", color: state === "connecting" ? "#92400e" : colors.danger }}>
            {WORDS[state]}
          </Text>
        </Pressable>
      )}
    </View>
  );
}
