import type { ConversationInfo, Message, ParleyClient } from "@parley/client";
import { useConnectionState, useConversation } from "@parley/client/react";
import { useEffect, useRef, useState } from "react";
import { FlatList, KeyboardAvoidingView, Platform, Pressable, Text, TextInput, View } from "react-native";

import { conversationName } from "./ConversationList";
import { Ticks } from "./Ticks";
import { colors, ui } from "./theme";

interface Props {
  client: ParleyClient;
  info: ConversationInfo;
  onBack(): void;
}

/** One conversation: members with online dots, the messages with their ticks, typing, the composer. */
export function ConversationScreen({ client, info, onBack }: Props) {
  const view = useConversation(client, info.id);
  const state = useConnectionState(client);
  const [draft, setDraft] = useState("");
  const list = useRef<FlatList<Message>>(null);
  const { messages, members, onlineUsers, typingUsers, markRead } = view;

  useEffect(() => void markRead(), [messages, markRead]); // on screen: read
  useEffect(() => list.current?.scrollToEnd({ animated: false }), [messages.length]);

  const send = (): void => {
    const text = draft.trim();
    if (text === "") return;
    setDraft("");
    void view.send(text);
  };

  const others = members.filter((m) => m.userId !== client.userId);
  return (
    <KeyboardAvoidingView style={{ flex: 1 }} behavior={Platform.OS === "ios" ? "padding" : undefined}>
      <View style={ui.header}>
        <Pressable accessibilityRole="button" accessibilityLabel="Back" onPress={onBack}>
          <Text style={ui.link}>‹ Chats</Text>
        </Pressable>
        <View style={{ flex: 1 }}>
          <Text style={{ fontSize: 17, fontWeight: "600" }} accessibilityRole="header">
            {conversationName(info, client.userId)}
          </Text>
          <View style={{ flexDirection: "row", flexWrap: "wrap", gap: 10 }}>
            {others.map((m) => {
              const online = onlineUsers.includes(m.userId);
              return (
                <View key={m.userId} testID={`member-${m.userId}`} accessibilityLabel={`${m.userId} ${online ? "online" : "offline"}`} style={{ flexDirection: "row", alignItems: "center", gap: 4 }}>
                  <View style={{ width: 8, height: 8, borderRadius: 4, backgroundColor: online ? colors.online : "#d1d5db" }} />
                  <Text style={[ui.muted, { fontSize: 12 }]}>{m.userId}</Text>
                </View>
              );
            })}
          </View>
        </View>
      </View>
      <FlatList
        ref={list}
        style={{ flex: 1 }}
        contentContainerStyle={{ padding: 12, gap: 6 }}
        data={messages}
        keyExtractor={(m) => m.clientMessageId}
        renderItem={({ item }) => (
          <Bubble message={item} mine={item.senderId === client.userId} queued={state !== "connected"} onRetry={() => void view.retry(item)} />
        )}
      />
      <Text testID="typing" style={[ui.muted, { paddingHorizontal: 12, minHeight: 20, fontStyle: "italic" }]}>
        {typingLine(typingUsers)}
      </Text>
      <View style={{ flexDirection: "row", padding: 8, gap: 8, backgroundColor: "#fff" }}>
        <TextInput
          style={[ui.input, { flex: 1 }]}
          accessibilityLabel="Message"
          placeholder="Message"
          value={draft}
          onChangeText={(text) => {
            setDraft(text);
            view.keystroke();
          }}
          onSubmitEditing={send}
          submitBehavior="submit"
        />
        <Pressable style={ui.button} accessibilityRole="button" onPress={send}>
          <Text style={ui.buttonText}>Send</Text>
        </Pressable>
      </View>
    </KeyboardAvoidingView>
  );
}

function typingLine(users: readonly string[]): string {
  if (users.length === 0) return "";
  if (users.length === 1) return `${users[0]} is typing…`;
  return `${users.join(", ")} are typing…`;
}

function Bubble({ message, mine, queued, onRetry }: { message: Message; mine: boolean; queued: boolean; onRetry(): void }) {
  return (
    <View
      testID="message"
      style={{
        alignSelf: mine ? "flex-end" : "flex-start",
        maxWidth: "80%",
        backgroundColor: mine ? colors.mine : colors.theirs,
        borderRadius: 12,
        paddingHorizontal: 10,
        paddingVertical: 6,
      }}
    >
      {!mine && <Text style={{ fontSize: 12, fontWeight: "600", color: colors.accent }}>{message.senderId}</Text>}
      <Text testID="message-text" style={{ fontSize: 16 }}>
        {message.text}
      </Text>
      <View style={{ flexDirection: "row", justifyContent: "flex-end", alignItems: "center", gap: 6 }}>
        {message.createdAt !== null && <Text style={[ui.muted, { fontSize: 11 }]}>{message.createdAt.slice(11, 16)}</Text>}
        {mine && <Ticks status={message.status} queued={queued} />}
      </View>
      {mine && message.status === "failed" && (
        <View style={{ flexDirection: "row", alignItems: "center", gap: 8 }} testID="failed">
          <Text style={[ui.error, { fontSize: 12, flexShrink: 1 }]}>Not sent: {message.error?.message ?? "no answer from the server"}</Text>
          <Pressable accessibilityRole="button" onPress={onRetry}>
            <Text style={[ui.link, { fontWeight: "600" }]}>Retry</Text>
          </Pressable>
        </View>
      )}
    </View>
  );
}
