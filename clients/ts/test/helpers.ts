/** Shared set-up: a started client on a fake server, on vitest's fake timers. */

import { afterEach, beforeEach, vi } from "vitest";

import { ParleyClient, type ParleyClientOptions } from "../src/client.js";
import type { Conversation } from "../src/conversation.js";
import { FakeServer, jwt } from "./fakes.js";

const running: ParleyClient[] = [];

/** Fake timers for every test of the file; every client started by {@link startClient} is closed after. */
export function useFakeTime(): void {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date("2026-11-26T09:41:00Z") });
  });
  afterEach(async () => {
    for (const client of running.splice(0)) {
      const closing = client.close();
      await vi.runOnlyPendingTimersAsync();
      await closing;
    }
    vi.useRealTimers();
  });
}

/** Let every pending promise (and timers due now) run. */
export async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

export async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

export async function startClient(
  server: FakeServer,
  user: string,
  options: Partial<ParleyClientOptions> = {},
): Promise<ParleyClient> {
  const client = new ParleyClient({
    url: "http://parley.test",
    tokenProvider: () => jwt(user),
    socketFactory: server.factory,
    fetch: server.fetch,
    random: () => 0.5, // no jitter: exact delays
    ...options,
  });
  running.push(client);
  await client.start();
  await settle();
  return client;
}

export function bodies(conversation: Conversation): string[] {
  return conversation.messages().map((m) => m.body);
}

export function statuses(conversation: Conversation): string[] {
  return conversation.messages().map((m) => m.status);
}
