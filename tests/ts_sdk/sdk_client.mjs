// The TypeScript SDK (clients/ts, built to dist/) as an app runs it, driven by a test over
// stdin/stdout, one JSON object per line.
//   argv: gateway URL, token, conversation id, and optionally the client's options as JSON
//         (`{"features": {"messages": "http", ...}}`)
//   in:   {"send": "text"} | {"keystroke": true} | {"markRead": true} | {"close": true}
//   out:  {"state": ...} on every connection state; {"modes": {...}} on every change of the
//         modes in force; {"messages": [{text, body, status, seq}], "online": [...], "typing": [...]}
//         on every change of the conversation; {"error": "..."} for a failed connection attempt.
import { createInterface } from "node:readline";

import { ParleyClient } from "../../clients/ts/dist/index.js";

const [url, token, conversationId, options = "{}"] = process.argv.slice(2);
const out = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const client = new ParleyClient({ url, tokenProvider: () => token, ...JSON.parse(options) });
client.onStateChange((state) => out({ state }));
client.onError((error) => out({ error: String(error?.message ?? error) }));
client.onModesChange((modes) => out({ modes }));
await client.start();
const chat = client.conversation(conversationId);
chat.subscribe((c) => {
  const snapshot = c.snapshot();
  const messages = snapshot.messages.map((m) => ({ text: m.text, body: m.body, status: m.status, seq: m.seq }));
  out({ messages, online: snapshot.onlineUsers, typing: snapshot.typingUsers });
});
out({ started: client.userId, modes: client.modes });

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  if (command.send !== undefined) await chat.send(command.send);
  if (command.keystroke) chat.keystroke();
  if (command.markRead) await chat.markRead().catch((error) => out({ error: String(error?.message ?? error) }));
  if (command.close) break;
}
await client.close();
process.exit(0);
