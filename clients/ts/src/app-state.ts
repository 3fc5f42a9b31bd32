/**
 * React Native's app lifecycle as a {@link NetworkStatus}: an app in the background has no
 * connection (iOS and Android suspend or kill its sockets anyway), so the client closes it
 * on the way out, and on the way back reconnects and syncs at once, skipping the backoff.
 */

import type { NetworkStatus } from "./network.js";

/** The part of React Native's `AppState` the SDK uses (pass `AppState` itself). */
export interface AppStateLike {
  readonly currentState: string | null | undefined;
  addEventListener(type: "change", listener: (state: string) => void): { remove(): void };
}

/**
 * `appStateNetwork(AppState)`: "offline" while the app is in the `background`; `active`,
 * `inactive` (iOS: a call, the app switcher) and unknown count as online.
 */
export function appStateNetwork(appState: AppStateLike): NetworkStatus {
  let foreground = appState.currentState !== "background";
  const listeners = new Set<(online: boolean) => void>();
  appState.addEventListener("change", (state) => {
    const now = state !== "background";
    if (now === foreground) return;
    foreground = now;
    for (const listener of [...listeners]) listener(now);
  });
  return {
    isOnline: () => foreground,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * Online only while every one of `statuses` is: e.g. the device's network and the app's
 * lifecycle, `allOnline(netInfoNetwork(NetInfo), appStateNetwork(AppState))`.
 */
export function allOnline(...statuses: NetworkStatus[]): NetworkStatus {
  const isOnline = (): boolean => statuses.every((status) => status.isOnline());
  return {
    isOnline,
    subscribe(listener) {
      let last = isOnline();
      const stops = statuses.map((status) =>
        status.subscribe(() => {
          const now = isOnline();
          if (now === last) return;
          last = now;
          listener(now);
        }),
      );
      return () => {
        for (const stop of stops) stop();
      };
    },
  };
}
