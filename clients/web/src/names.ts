import { type ConversationInfo, decodeText } from "@parley/client";

/** A conversation's name: its title (decoded: titles are escaped on the wire), else the other members. */
export function conversationName(info: ConversationInfo, me: string): string {
  if (info.title) return decodeText(info.title);
  const others = info.memberIds.filter((m) => m !== me);
  return others.length > 0 ? others.join(", ") : "Just you";
}

export function clockTime(iso: string | null): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
