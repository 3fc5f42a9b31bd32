/** Parley's TypeScript SDK: see README.md in this folder. React hooks: `@parley/client/react`. */

export { ParleyClient, type ParleyClientOptions } from "./client.js";
export {
  CONFIG_REFRESH_MS,
  DEFAULT_CLIENT_CONFIG,
  capModes,
  parseClientConfig,
  type ClientConfig,
  type FeatureModes,
  type MessagesMode,
  type PresenceMode,
  type TypingMode,
} from "./config.js";
export {
  Connection,
  socketIoFactory,
  type SocketFactory,
  type SocketLike,
  type SocketOptions,
  type TokenProvider,
  type Transport,
} from "./connection.js";
export { Conversation, type ConversationSnapshot } from "./conversation.js";
export {
  AuthError,
  ClientClosed,
  ConnectError,
  HttpError,
  NotConnected,
  ParleyError,
  errorFromAck,
  type AuthErrorCode,
  type ErrorCode,
} from "./errors.js";
export {
  ParleyHttp,
  devToken,
  type ConversationInfo,
  type FetchLike,
  type MessagePage,
  type SentMessage,
} from "./http.js";
export { authFailureCode, devTokenProvider, tokenSecondsLeft, type DevTokenProviderOptions } from "./dev-tokens.js";
export { tokenClaims, tokenSubject, uuid4 } from "./ids.js";
export type { ConnectionState, Member, Message, MessageStatus, WireMessage } from "./models.js";
export { allOnline, appStateNetwork, type AppStateLike } from "./app-state.js";
export { alwaysOnline, browserNetwork, netInfoNetwork, type NetInfoLike, type NetworkStatus } from "./network.js";
export { type OutboxItem } from "./outbox.js";
export { asyncStorage, memoryStorage, webStorage, type KeyValueStorage } from "./storage.js";
export { decodeText, encodeText, normalizeText } from "./text.js";
export { systemTimers, type Timers } from "./timers.js";
export * as timing from "./backoff.js";
