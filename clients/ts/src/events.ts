/**
 * Server events to their conversation. A feature in `http` / `off` mode (PROTOCOL §7)
 * ignores its socket events: its state comes from polling, or not at all, so that a
 * switch never feeds one conversation from two sources at once.
 */

import type { FeatureModes } from "./config.js";
import type { Connection } from "./connection.js";
import type { Conversation } from "./conversation.js";
import { isRecord } from "./errors.js";
import type { WireMessage } from "./models.js";

export function routeEvents(
  connection: Pick<Connection, "on">,
  conversations: ReadonlyMap<string, Conversation>,
  modes: () => FeatureModes,
): void {
  const about = (data: unknown): Conversation | undefined =>
    isRecord(data) && typeof data["conversationId"] === "string" ? conversations.get(data["conversationId"]) : undefined;
  const on = (event: string, feature: keyof FeatureModes, handle: (c: Conversation, data: Record<string, unknown>) => void): void => {
    connection.on(event, (data) => {
      const conversation = modes()[feature] === "socket" ? about(data) : undefined;
      if (conversation !== undefined) handle(conversation, data as Record<string, unknown>);
    });
  };
  connection.on("message:new", (data) => {
    const message = isRecord(data) ? data["message"] : undefined;
    if (modes().messages === "socket") about(message)?.messageNew(message as WireMessage);
  });
  on("message:delivered", "messages", (c, data) => c.receipt("delivered", String(data["userId"]), Number(data["upToSeq"])));
  on("message:read", "messages", (c, data) => c.receipt("read", String(data["userId"]), Number(data["upToSeq"])));
  on("typing:start", "typing", (c, data) => c.typing.started(String(data["userId"])));
  on("typing:stop", "typing", (c, data) => c.typing.stopped(String(data["userId"])));
  on("user:online", "presence", (c, data) => c.presence(String(data["userId"]), true));
  on("user:offline", "presence", (c, data) => c.presence(String(data["userId"]), false));
}
