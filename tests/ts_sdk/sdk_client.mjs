// The TypeScript SDK (clients/ts, built to dist/) as an app runs it, driven by a test over
// stdin/stdout, one JSON object per line.
//   argv: gateway URL, token, conversation id
//   in:   {"send": "text"} | {"close": true}
//   out:  {"state": ...} on every connection state; {"messages": [{text, body, status, seq}]}
//         on every change of the conversation; {"error": "..."} for a failed connection attempt.
import { createInterface } from "node:readline";

import { ParleyClient } from "../../clients/ts/dist/index.js";

const [url, token, conversationId] = process.argv.slice(2);
const out = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const client = new ParleyClient({ url, tokenProvider: () => token });
client.onStateChange((state) => out({ state }));
client.onError((error) => out({ error: String(error?.message ?? error) }));
await client.start();
const chat = client.conversation(conversationId);
chat.subscribe((c) => {
  const messages = c.snapshot().messages.map((m) => ({ text: m.text, body: m.body, status: m.status, seq: m.seq }));
  out({ messages });
});
out({ started: client.userId });

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  if (command.send !== undefined) await chat.send(command.send);
  if (command.close) break;
}
await client.close();
process.exit(0);
