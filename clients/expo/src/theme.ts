import { StyleSheet } from "react-native";

export const colors = {
  accent: "#2563eb",
  read: "#1d9bf0",
  muted: "#6b7280",
  border: "#e5e7eb",
  danger: "#b91c1c",
  online: "#16a34a",
  mine: "#dcf8c6",
  theirs: "#ffffff",
  background: "#f3f4f6",
};

export const ui = StyleSheet.create({
  screen: { flex: 1, backgroundColor: colors.background },
  header: {
    flexDirection: "row",
    alignItems: "center",
    paddingHorizontal: 12,
    paddingVertical: 10,
    backgroundColor: "#fff",
    borderBottomWidth: 1,
    borderBottomColor: colors.border,
    gap: 8,
  },
  title: { fontSize: 18, fontWeight: "600", flex: 1 },
  input: {
    borderWidth: 1,
    borderColor: colors.border,
    borderRadius: 8,
    paddingHorizontal: 12,
    paddingVertical: 10,
    backgroundColor: "#fff",
    fontSize: 16,
  },
  button: { backgroundColor: colors.accent, borderRadius: 8, paddingHorizontal: 16, paddingVertical: 10, alignItems: "center" },
  buttonText: { color: "#fff", fontWeight: "600", fontSize: 16 },
  link: { color: colors.accent, fontSize: 15 },
  error: { color: colors.danger },
  muted: { color: colors.muted },
});
