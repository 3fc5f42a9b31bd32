import { ParleyClient, ParleyHttp, browserNetwork, devToken, webStorage } from "@parley/client";

const url = "http://127.0.0.1:8000"; // `make run`; in a page served by Parley: location.origin
const tokenProvider = () => devToken(url, "alice"); // asked before every connection attempt

const conversationId = (await new ParleyHttp({ url, tokenProvider }).createConversation(["bob"])).id;
const client = new ParleyClient({ url, tokenProvider, storage: webStorage(), network: browserNetwork() });
await client.start(); // connects in the background, and reconnects with backoff
client.onStateChange((state) => console.log("connection:", state)); // connecting / connected / disconnected

const chat = client.conversation(conversationId); // joined and synced now and after every reconnect
chat.subscribe((c) => console.log(c.snapshot().messages.map((m) => `${m.text} (${m.status})`))); // text: as typed
chat.keystroke(); // typing:start now, typing:stop after 2 s idle or on send
await chat.send("hello"); // shown at once as sending; queued offline; acked, retried, then sent/delivered/read
await chat.markRead(); // what is on screen is read: the others see blue ticks
