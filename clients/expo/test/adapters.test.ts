/// <reference types="jest" />
/**
 * The SDK's React Native adapters on the real packages' own test doubles: AsyncStorage's
 * jest mock, NetInfo's jest mock, and React Native's AppState as the react-native jest preset
 * (jest-expo) mocks it. Nothing here is a fake of ours.
 */

import AsyncStorage from "@react-native-async-storage/async-storage";
import NetInfo from "@react-native-community/netinfo";
import { ParleyClient, allOnline, appStateNetwork, asyncStorage, netInfoNetwork } from "@parley/client";
import { AppState } from "react-native";

type NetInfoListener = (state: { isConnected: boolean | null; isInternetReachable?: boolean | null }) => void;

/** The listener the SDK gave to the mock's `addEventListener` (the latest one). */
function lastNetInfoListener(): NetInfoListener {
  const calls = jest.mocked(NetInfo.addEventListener).mock.calls;
  const listener = calls[calls.length - 1]?.[0];
  if (listener === undefined) throw new Error("the SDK did not subscribe to NetInfo");
  return listener as unknown as NetInfoListener;
}

function lastAppStateListener(): (state: string) => void {
  const calls = jest.mocked(AppState.addEventListener).mock.calls;
  const listener = calls[calls.length - 1]?.[1];
  if (listener === undefined) throw new Error("the SDK did not subscribe to AppState");
  return listener as (state: string) => void;
}

/** Alice's token, unsigned: the SDK reads the user from it, and no server sees it here. */
const ALICE = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.signature";

beforeEach(async () => {
  await AsyncStorage.clear();
  jest.clearAllMocks();
});

describe("netInfoNetwork on NetInfo's jest mock", () => {
  it("follows isConnected and isInternetReachable, unknown counting as online", () => {
    const network = netInfoNetwork(NetInfo);
    const seen: boolean[] = [];
    network.subscribe((online) => seen.push(online));
    const report = lastNetInfoListener();
    expect(network.isOnline()).toBe(true);
    report({ isConnected: false, isInternetReachable: false });
    expect(network.isOnline()).toBe(false);
    report({ isConnected: true, isInternetReachable: null });
    report({ isConnected: true, isInternetReachable: false }); // on a Wi-Fi without internet
    report({ isConnected: null, isInternetReachable: null });
    expect(seen).toEqual([false, true, false, true]);
  });
});

describe("appStateNetwork on React Native's AppState (jest preset)", () => {
  it("is offline in the background only, and says so once per change", () => {
    const network = appStateNetwork(AppState);
    const seen: boolean[] = [];
    network.subscribe((online) => seen.push(online));
    const change = lastAppStateListener();
    expect(network.isOnline()).toBe(true);
    change("inactive"); // iOS: the app switcher, a call: still connected
    change("background");
    change("background");
    expect(network.isOnline()).toBe(false);
    change("active");
    expect(seen).toEqual([false, true]);
  });

  it("combined with NetInfo: online only when both are", () => {
    const network = allOnline(netInfoNetwork(NetInfo), appStateNetwork(AppState));
    const seen: boolean[] = [];
    network.subscribe((online) => seen.push(online));
    const netInfo = lastNetInfoListener();
    const appState = lastAppStateListener();
    netInfo({ isConnected: false });
    appState("background");
    netInfo({ isConnected: true }); // still in the background
    expect(network.isOnline()).toBe(false);
    appState("active");
    expect(network.isOnline()).toBe(true);
    expect(seen).toEqual([false, true]);
  });
});

describe("asyncStorage on AsyncStorage's jest mock", () => {
  it("keeps what was sent offline across a restart of the app, in order", async () => {
    const options = {
      url: "http://127.0.0.1:9",
      tokenProvider: async () => ALICE,
      storage: asyncStorage(AsyncStorage),
      network: netInfoNetwork(NetInfo),
    };
    const first = new ParleyClient(options);
    lastNetInfoListener()({ isConnected: false }); // offline: the client never opens a socket
    await first.start();
    const chat = first.conversation("c1");
    await chat.send("one");
    await chat.send("two");
    const stored = JSON.parse((await AsyncStorage.getItem("parley.outbox.alice")) ?? "[]") as { body: string }[];
    expect(stored.map((item) => item.body)).toEqual(["one", "two"]);
    await first.close();

    const second = new ParleyClient(options);
    lastNetInfoListener()({ isConnected: false });
    await second.start();
    const restored = second.conversation("c1").snapshot().messages;
    expect(restored.map((m) => [m.text, m.status])).toEqual([
      ["one", "sending"],
      ["two", "sending"],
    ]);
    await second.close();
  });
});
