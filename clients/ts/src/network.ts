/**
 * What the device says about its network. When it says offline the client closes its
 * connection at once (instead of waiting for pings to fail) and does not try again until
 * it says online, when it reconnects without waiting for the backoff.
 */

export interface NetworkStatus {
  /** `false` only when the device is known to be offline. */
  isOnline(): boolean;
  /** Calls `listener` on every change; returns the unsubscribe function. */
  subscribe(listener: (online: boolean) => void): () => void;
}

/** No information: always online (the default; pings still notice a dead link). */
export const alwaysOnline: NetworkStatus = {
  isOnline: () => true,
  subscribe: () => () => undefined,
};

interface EventTargetLike {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

/** A browser's `online` / `offline` events and `navigator.onLine`. */
export function browserNetwork(
  target: EventTargetLike | undefined = globalThis as unknown as EventTargetLike,
  navigator: { onLine?: boolean } | undefined = (globalThis as { navigator?: { onLine?: boolean } })
    .navigator,
): NetworkStatus {
  if (target === undefined || typeof target.addEventListener !== "function") return alwaysOnline;
  return {
    isOnline: () => navigator?.onLine !== false,
    subscribe(listener) {
      const online = (): void => listener(true);
      const offline = (): void => listener(false);
      target.addEventListener("online", online);
      target.addEventListener("offline", offline);
      return () => {
        target.removeEventListener("online", online);
        target.removeEventListener("offline", offline);
      };
    },
  };
}

/** The part of `@react-native-community/netinfo` the SDK uses (pass its default export). */
export interface NetInfoLike {
  addEventListener(
    listener: (state: { isConnected: boolean | null; isInternetReachable?: boolean | null }) => void,
  ): () => void;
}

/** React Native: `netInfoNetwork(NetInfo)`. Unknown (`null`) counts as online. */
export function netInfoNetwork(netInfo: NetInfoLike): NetworkStatus {
  let online = true;
  const listeners = new Set<(online: boolean) => void>();
  netInfo.addEventListener((state) => {
    const now = state.isConnected !== false && state.isInternetReachable !== false;
    if (now === online) return;
    online = now;
    for (const listener of [...listeners]) listener(now);
  });
  return {
    isOnline: () => online,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
