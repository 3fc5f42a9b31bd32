/**
 * Sends not yet acknowledged, in the order they were made, kept through a
 * {@link KeyValueStorage} so that a reload or a restart of the app loses none: they are
 * loaded at start and sent again with the same `clientMessageId`, which the server
 * answers as a duplicate if it had stored them already.
 */

import { isRecord } from "./errors.js";
import { type KeyValueStorage, memoryStorage } from "./storage.js";

export interface OutboxItem {
  readonly conversationId: string;
  readonly clientMessageId: string;
  /** The text as typed (sent as `body`; the server escapes it). */
  readonly body: string;
}

export class Outbox {
  private readonly storage: KeyValueStorage;
  private readonly key: string;
  private readonly items = new Map<string, OutboxItem>();
  private waiters: Array<(item: OutboxItem | null) => void> = [];
  private writes: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(storage: KeyValueStorage | undefined, key: string) {
    this.storage = storage ?? memoryStorage();
    this.key = key;
  }

  /** What a previous run left unsent (also queued again). */
  async load(): Promise<OutboxItem[]> {
    const loaded = parseItems(await this.storage.getItem(this.key));
    for (const item of loaded) this.items.set(item.clientMessageId, item);
    this.wakeWaiters();
    return loaded;
  }

  /** Queue `item`; it is in storage when this resolves. */
  async put(item: OutboxItem): Promise<void> {
    this.items.set(item.clientMessageId, item);
    await this.persist();
    this.wakeWaiters();
  }

  /** The oldest item (it stays queued until {@link remove}); `null` once closed. */
  next(): Promise<OutboxItem | null> {
    if (this.closed) return Promise.resolve(null);
    const first = this.items.values().next();
    if (!first.done) return Promise.resolve(first.value);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async remove(clientMessageId: string): Promise<void> {
    if (this.items.delete(clientMessageId)) await this.persist();
  }

  has(clientMessageId: string): boolean {
    return this.items.has(clientMessageId);
  }

  get size(): number {
    return this.items.size;
  }

  close(): void {
    this.closed = true;
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    const first = this.items.values().next();
    if (!this.closed && first.done) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve(this.closed ? null : (first.value as OutboxItem));
  }

  private persist(): Promise<void> {
    // Writes go out one after another, each with the whole queue: the last one wins.
    const snapshot = JSON.stringify([...this.items.values()]);
    const write = this.writes.then(async () => {
      if (snapshot === "[]") await this.storage.removeItem(this.key);
      else await this.storage.setItem(this.key, snapshot);
    });
    this.writes = write.catch(() => undefined);
    return write;
  }
}

function parseItems(raw: string | null): OutboxItem[] {
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.filter(
    (item): item is OutboxItem =>
      isRecord(item) &&
      typeof item["conversationId"] === "string" &&
      typeof item["clientMessageId"] === "string" &&
      typeof item["body"] === "string",
  );
}
