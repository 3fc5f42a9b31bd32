// Must not bundle: a package that needs Node (installed here: Metro itself uses it).
import WebSocket from "ws";

export const probe = WebSocket;
