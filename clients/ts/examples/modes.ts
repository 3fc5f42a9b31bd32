import { ParleyClient, devToken } from "@parley/client";

const url = "http://127.0.0.1:8000";
const tokenProvider = () => devToken(url, "alice");

// Messages over the socket already; typing not yet; presence still polled over HTTP.
const client = new ParleyClient({ url, tokenProvider, features: { messages: "socket", typing: "off", presence: "http" } });
await client.start();
console.log(client.modes); // in force: the app's choice capped by the server's GET /api/client-config
client.onModesChange((modes) => console.log("now", modes)); // e.g. the operator rolled messages back to http
