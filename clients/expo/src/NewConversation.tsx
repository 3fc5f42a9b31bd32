import type { ConversationInfo, ParleyHttp } from "@parley/client";
import { useState } from "react";
import { Pressable, Text, TextInput, View } from "react-native";

import { signInFailure } from "./session";
import { ui } from "./theme";

interface Props {
  http: ParleyHttp;
  onCreated(conversation: ConversationInfo): void;
  onCancel(): void;
}

/** Members by name (comma- or space-separated) and an optional title. */
export function NewConversation({ http, onCreated, onCancel }: Props) {
  const [members, setMembers] = useState("");
  const [title, setTitle] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const create = async (): Promise<void> => {
    const memberIds = members.split(/[\s,]+/).filter((id) => id !== "");
    if (memberIds.length === 0) {
      setProblem("Name at least one person.");
      return;
    }
    setBusy(true);
    setProblem(null);
    try {
      onCreated(await http.createConversation(memberIds, title.trim() || undefined));
    } catch (error) {
      setProblem(signInFailure(error));
      setBusy(false);
    }
  };

  return (
    <View style={{ flex: 1 }}>
      <View style={ui.header}>
        <Pressable accessibilityRole="button" accessibilityLabel="Back" onPress={onCancel}>
          <Text style={ui.link}>‹ Back</Text>
        </Pressable>
        <Text style={ui.title} accessibilityRole="header">
          New conversation
        </Text>
      </View>
      <View style={{ padding: 16, gap: 12 }}>
        <TextInput
          style={ui.input}
          accessibilityLabel="Members"
          placeholder="bob, carol"
          autoCapitalize="none"
          autoCorrect={false}
          value={members}
          onChangeText={setMembers}
        />
        <TextInput style={ui.input} accessibilityLabel="Title (optional)" placeholder="Title (optional)" value={title} onChangeText={setTitle} />
        {problem !== null && <Text style={ui.error}>{problem}</Text>}
        <Pressable style={ui.button} accessibilityRole="button" disabled={busy} onPress={() => void create()}>
          <Text style={ui.buttonText}>Start</Text>
        </Pressable>
      </View>
    </View>
  );
}
