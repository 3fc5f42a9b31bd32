import { useState } from "react";
import { Pressable, ScrollView, Text, TextInput, View } from "react-native";

import { type Session, defaultServer, devSignIn, signInFailure, tokenSignIn } from "./session";
import { ui } from "./theme";

interface Props {
  notice: string | null;
  onSignedIn(session: Session): void;
}

/** The server's address, then a name (DEV_MODE servers) or a pasted token. */
export function SignIn({ notice, onSignedIn }: Props) {
  const [server, setServer] = useState(defaultServer());
  const [name, setName] = useState("");
  const [token, setToken] = useState("");
  const [withToken, setWithToken] = useState(false);
  const [problem, setProblem] = useState<string | null>(notice);
  const [busy, setBusy] = useState(false);

  const submit = async (): Promise<void> => {
    setProblem(null);
    if (server.trim() === "") {
      setProblem("Enter the server's address, e.g. http://192.168.1.20:8000.");
      return;
    }
    setBusy(true);
    try {
      onSignedIn(withToken ? tokenSignIn(server, token) : await devSignIn(server, name));
    } catch (error) {
      setProblem(signInFailure(error));
      setBusy(false);
    }
  };

  return (
    <ScrollView contentContainerStyle={{ padding: 24, gap: 14, maxWidth: 480, width: "100%", alignSelf: "center" }}>
      <Text style={{ fontSize: 28, fontWeight: "700" }} accessibilityRole="header">
        Parley
      </Text>
      <Text style={ui.muted}>Sign in to chat.</Text>
      <TextInput
        style={ui.input}
        accessibilityLabel="Server"
        placeholder="http://192.168.1.20:8000"
        autoCapitalize="none"
        autoCorrect={false}
        keyboardType="url"
        value={server}
        onChangeText={setServer}
      />
      {withToken ? (
        <TextInput
          style={[ui.input, { minHeight: 90 }]}
          accessibilityLabel="Token (JWT)"
          placeholder="eyJhbGciOi…"
          autoCapitalize="none"
          autoCorrect={false}
          multiline
          value={token}
          onChangeText={setToken}
        />
      ) : (
        <TextInput
          style={ui.input}
          accessibilityLabel="Your name"
          placeholder="alice"
          autoCapitalize="none"
          autoCorrect={false}
          value={name}
          onChangeText={setName}
          onSubmitEditing={() => void submit()}
        />
      )}
      {problem !== null && (
        <Text style={ui.error} accessibilityRole="alert" testID="sign-in-problem">
          {problem}
        </Text>
      )}
      <Pressable style={ui.button} accessibilityRole="button" disabled={busy} onPress={() => void submit()}>
        <Text style={ui.buttonText}>{withToken ? "Sign in with token" : "Sign in"}</Text>
      </Pressable>
      <Pressable accessibilityRole="button" onPress={() => setWithToken(!withToken)}>
        <Text style={ui.link}>{withToken ? "Sign in by name (DEV_MODE servers)" : "Sign in with a token"}</Text>
      </Pressable>
    </ScrollView>
  );
}
