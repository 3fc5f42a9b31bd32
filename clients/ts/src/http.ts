/** The HTTP API of PROTOCOL §5 that apps need beside the socket: conversations, and dev tokens. */

import { HttpError, isRecord } from "./errors.js";
import type { TokenProvider } from "./connection.js";
import type { Member } from "./models.js";

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
  json(): Promise<unknown>;
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

  async getConversation(conversationId: string): Promise<ConversationInfo> {
    return (await this.request("GET", `/api/conversations/${encodeURIComponent(conversationId)}`)) as ConversationInfo;
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
  throw new HttpError(response.status, code, message);
}
