/**
 * The one `ParleyClient` of the app, on the device's real facilities: the outbox in
 * AsyncStorage, the network from NetInfo, and the app's lifecycle from AppState (in the
 * background the socket is closed; back in the foreground it reconnects and syncs at once).
 */

import AsyncStorage from "@react-native-async-storage/async-storage";
import NetInfo from "@react-native-community/netinfo";
import { type NetInfoLike, ParleyClient, allOnline, appStateNetwork, asyncStorage, netInfoNetwork } from "@parley/client";
import { AppState } from "react-native";

import { type Session, tokenProvider } from "./session";

// NetInfo's own reachability probe fetches a Google URL (the page's origin on the web) every
// minute: off, and then its `isInternetReachable` is always false, so the client is told about
// the link alone (`isConnected`). Whether Parley answers is what Engine.IO's pings find out.
NetInfo.configure({ reachabilityShouldRun: () => false });
const link: NetInfoLike = {
  addEventListener: (listener) => NetInfo.addEventListener((state) => listener({ isConnected: state.isConnected })),
};

export function createClient(session: Session): ParleyClient {
  return new ParleyClient({
    url: session.server,
    tokenProvider: tokenProvider(session),
    storage: asyncStorage(AsyncStorage),
    network: allOnline(netInfoNetwork(link), appStateNetwork(AppState)),
  });
}
