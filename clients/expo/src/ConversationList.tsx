import { type ConversationInfo, type ParleyClient, decodeText } from "@parley/client";
import { useState } from "react";
import { FlatList, Pressable, RefreshControl, Text, View } from "react-native";

import { colors, ui } from "./theme";

interface Props {
  client: ParleyClient;
  userId: string;
  conversations: ConversationInfo[] | null;
  problem: string | null;
  onOpen(id: string): void;
  onNew(): void;
  onRefresh(): Promise<void>;
  onSignOut(): void;
}

/** The title a conversation is shown by: its own, or the other members' names. */
export function conversationName(info: ConversationInfo, userId: string): string {
  if (info.title) return decodeText(info.title);
  const others = info.memberIds.filter((id) => id !== userId);
  return others.length > 0 ? others.join(", ") : "Just you";
}

export function ConversationList({ client, userId, conversations, problem, onOpen, onNew, onRefresh, onSignOut }: Props) {
  const [refreshing, setRefreshing] = useState(false);
  return (
    <View style={{ flex: 1 }}>
      <View style={ui.header}>
        <Text style={ui.title} accessibilityRole="header">
          Chats
        </Text>
        <Text style={ui.muted} testID="me">
          {userId}
        </Text>
        <Pressable accessibilityRole="button" onPress={onSignOut}>
          <Text style={ui.link}>Sign out</Text>
        </Pressable>
      </View>
      {problem !== null && <Text style={[ui.error, { padding: 12 }]}>{problem}</Text>}
      <FlatList
        data={conversations ?? []}
        keyExtractor={(c) => c.id}
        refreshControl={
          <RefreshControl
            refreshing={refreshing}
            onRefresh={() => {
              setRefreshing(true);
              void onRefresh().finally(() => setRefreshing(false));
            }}
          />
        }
        ListEmptyComponent={
          <Text style={[ui.muted, { padding: 24, textAlign: "center" }]}>
            {conversations === null ? "Loading…" : "No conversations yet: start one."}
          </Text>
        }
        renderItem={({ item }) => (
          <Pressable
            testID="conversation-item"
            accessibilityRole="button"
            onPress={() => onOpen(item.id)}
            style={{ padding: 16, backgroundColor: "#fff", borderBottomWidth: 1, borderBottomColor: colors.border }}
          >
            <Text style={{ fontSize: 16, fontWeight: "500" }}>{conversationName(item, userId)}</Text>
            <Text style={ui.muted}>
              {item.memberIds.length} members · {unreadWords(client, item)}
            </Text>
          </Pressable>
        )}
      />
      <Pressable style={[ui.button, { margin: 16 }]} accessibilityRole="button" onPress={onNew}>
        <Text style={ui.buttonText}>New conversation</Text>
      </Pressable>
    </View>
  );
}

function unreadWords(client: ParleyClient, info: ConversationInfo): string {
  const followed = client.conversations.get(info.id);
  const unread = followed?.snapshot().unread ?? 0;
  return unread > 0 ? `${unread} unread` : `${info.lastSeq} messages`;
}
