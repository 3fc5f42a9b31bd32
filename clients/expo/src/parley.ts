/**
 * The one `ParleyClient` of the app, on the device's real facilities: the outbox in
 * AsyncStorage, the network from NetInfo, and the app's lifecycle from AppState (in the
 * background the socket is closed; back in the foreground it reconnects and syncs at once).
 */

import AsyncStorage from "@react-native-async-storage/async-storage";
import NetInfo from "@react-native-community/netinfo";
import { ParleyClient, allOnline, appStateNetwork, asyncStorage, netInfoNetwork } from "@parley/client";
import { AppState } from "react-native";

import { type Session, tokenProvider } from "./session";

// NetInfo's own reachability probe asks a Google URL every few seconds (and the page's own
// origin on the web): off. Whether Parley is reachable is what Engine.IO's pings find out.
NetInfo.configure({ reachabilityShouldRun: () => false });

export function createClient(session: Session): ParleyClient {
  return new ParleyClient({
    url: session.server,
    tokenProvider: tokenProvider(session),
    storage: asyncStorage(AsyncStorage),
    network: allOnline(netInfoNetwork(NetInfo), appStateNetwork(AppState)),
  });
}
