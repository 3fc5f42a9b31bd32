/**
 * Where the offline queue is kept: any key-value store with `getItem`/`setItem`/`removeItem`,
 * sync (the web's `localStorage`) or async (React Native's `AsyncStorage`).
 */

export interface KeyValueStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

/** Kept in memory only: nothing survives a reload (the default). */
export function memoryStorage(): KeyValueStorage {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/**
 * The browser's `localStorage` (or the `Storage` given). Where it is missing or refuses
 * (private mode, quota), the queue is kept in memory instead of failing the send.
 */
export function webStorage(storage?: KeyValueStorage): KeyValueStorage {
  const target = storage ?? (globalThis as { localStorage?: KeyValueStorage }).localStorage;
  const fallback = memoryStorage();
  if (target === undefined) return fallback;
  return {
    getItem: (key) => attempt(() => target.getItem(key), () => fallback.getItem(key)),
    setItem: (key, value) => attempt(() => target.setItem(key, value), () => fallback.setItem(key, value)),
    removeItem: (key) => attempt(() => target.removeItem(key), () => fallback.removeItem(key)),
  };
}

/**
 * React Native: pass `AsyncStorage` from `@react-native-async-storage/async-storage`
 * (`asyncStorage(AsyncStorage)`); the SDK does not depend on it.
 */
export function asyncStorage(storage: {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}): KeyValueStorage {
  return storage;
}

function attempt<T>(work: () => T, otherwise: () => T): T {
  try {
    return work();
  } catch {
    return otherwise();
  }
}
