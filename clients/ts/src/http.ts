/**
 * The HTTP API of PROTOCOL §5: conversations and dev tokens for apps, and the polling path
 * of §7 (messages, receipts, the client config) that the client uses for a feature in `http` mode.
 */

import { HttpError, isRecord } from "./errors.js";
import type { TokenProvider } from "./connection.js";
import type { Member, WireMessage } from "./models.js";

export interface ConversationInfo {
  id: string;
  title: string | null;
  memberIds: string[];
  createdAt: string;
  lastSeq: number;
  /** Only from {@link ParleyHttp.getConversation}. */
  members?: Member[];
}

interface FetchResponse {
  readonly ok: boolean;
  readonly status: number;
  /** Read for `Retry-After` on a 429 (optional: a fetch without headers waits 1 s). */
  readonly headers?: { get(name: string): string | null };
  json(): Promise<unknown>;
}

/** A page of messages (PROTOCOL §4.7, `GET /api/conversations/{id}/messages`). */
export interface MessagePage {
  messages: WireMessage[];
  hasMore: boolean;
  lastSeq: number;
}

/** The answer to a send (`POST /api/conversations/{id}/messages`), as the socket's ack has it. */
export interface SentMessage {
  message: WireMessage;
  duplicate: boolean;
}

/** `fetch` as the SDK uses it (the browser's, React Native's and Node's all fit). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<FetchResponse>;

const globalFetch: FetchLike = (url, init) =>
  (globalThis as unknown as { fetch: FetchLike }).fetch(url, init);

export class ParleyHttp {
  private readonly url: string;
  private readonly tokenProvider: TokenProvider;
  private readonly fetch: FetchLike;

  constructor(options: { url: string; tokenProvider: TokenProvider; fetch?: FetchLike }) {
    this.url = options.url.replace(/\/+$/, "");
    this.tokenProvider = options.tokenProvider;
    this.fetch = options.fetch ?? globalFetch;
  }

  /** The user's conversations, newest first. */
  async listConversations(): Promise<ConversationInfo[]> {
    const answer = await this.request("GET", "/api/conversations");
    return (isRecord(answer) && Array.isArray(answer["conversations"]) ? answer["conversations"] : []) as ConversationInfo[];
  }

  /** A new conversation with `memberIds` (the caller is always a member). */
  async createConversation(memberIds: string[], title?: string): Promise<ConversationInfo> {
    const body = title ? { memberIds, title } : { memberIds };
    return (await this.request("POST", "/api/conversations", body)) as ConversationInfo;
  }

  /** One conversation, with its `members` (online flags and receipt watermarks, PROTOCOL §4.3). */
  async getConversation(conversationId: string): Promise<ConversationInfo> {
    return (await this.request("GET", conversationPath(conversationId))) as ConversationInfo;
  }

  /** Messages after seq `afterSeq`, ascending, at most `limit` (the server caps it at 500). */
  async messages(conversationId: string, afterSeq: number, limit = 500): Promise<MessagePage> {
    const answer = await this.request("GET", `${conversationPath(conversationId)}/messages?afterSeq=${afterSeq}&limit=${limit}`);
    const page = isRecord(answer) ? answer : {};
    return {
      messages: (Array.isArray(page["messages"]) ? page["messages"] : []) as WireMessage[],
      hasMore: page["hasMore"] === true,
      lastSeq: Number(page["lastSeq"] ?? 0) || 0,
    };
  }

  /**
   * Send over HTTP, idempotent by `clientMessageId` like `message:send` (a repeat answers
   * `duplicate: true`). `body` is the text as typed. Refusals are {@link HttpError}s with the
   * code of PROTOCOL §3 (429: `rate_limited` with `retryAfterMs` from `Retry-After`).
   */
  async sendMessage(conversationId: string, clientMessageId: string, body: string): Promise<SentMessage> {
    const answer = await this.request("POST", `${conversationPath(conversationId)}/messages`, { clientMessageId, body });
    if (!isRecord(answer) || !isRecord(answer["message"])) throw new HttpError(200, "internal", "malformed answer");
    return { message: answer["message"] as unknown as WireMessage, duplicate: answer["duplicate"] === true };
  }

  /** `POST …/delivered` or `…/read`: the stored watermark (PROTOCOL §4.6). */
  async receipt(conversationId: string, kind: "delivered" | "read", upToSeq: number): Promise<number> {
    const answer = await this.request("POST", `${conversationPath(conversationId)}/${kind}`, { upToSeq });
    return isRecord(answer) ? Number(answer["upToSeq"] ?? upToSeq) : upToSeq;
  }

  /** `GET /api/client-config` (PROTOCOL §7), as the server sent it: see `parseClientConfig`. */
  async clientConfig(): Promise<unknown> {
    return this.request("GET", "/api/client-config");
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { authorization: `Bearer ${await this.tokenProvider()}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    return call(this.fetch, `${this.url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }
}

/**
 * A development token for `userId` from a server in `DEV_MODE` (`POST /api/dev/token`).
 * Refused with `HttpError` status 404 when dev tokens are off.
 */
export async function devToken(url: string, userId: string, fetch: FetchLike = globalFetch): Promise<string> {
  const answer = await call(fetch, `${url.replace(/\/+$/, "")}/api/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId }),
  });
  if (!isRecord(answer) || typeof answer["token"] !== "string") throw new HttpError(200, "internal", "no token");
  return answer["token"];
}

function conversationPath(conversationId: string): string {
  return `/api/conversations/${encodeURIComponent(conversationId)}`;
}

async function call(fetch: FetchLike, url: string, init: Parameters<FetchLike>[1]): Promise<unknown> {
  let response: FetchResponse;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new HttpError(0, "unavailable", `the server cannot be reached (${String(error)})`);
  }
  const answer: unknown = await response.json().catch(() => undefined);
  if (response.ok) return answer;
  const error = isRecord(answer) && isRecord(answer["error"]) ? answer["error"] : {};
  const code = typeof error["code"] === "string" ? error["code"] : `http_${response.status}`;
  const message = typeof error["message"] === "string" ? error["message"] : `HTTP ${response.status}`;
  throw new HttpError(response.status, code, message, retryAfter(response));
}

/** `Retry-After` (whole seconds) of a 429 in milliseconds; 1 s when it is missing. */
function retryAfter(response: FetchResponse): { retryAfterMs?: number } {
  if (response.status !== 429) return {};
  const seconds = Number(response.headers?.get("retry-after") ?? "1");
  return { retryAfterMs: Number.isFinite(seconds) && seconds >= 0 ? seconds * 1_000 : 1_000 };
}
