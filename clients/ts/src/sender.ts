/**
 * Delivering the outbox: one message at a time, in order (PROTOCOL §6, REQUIREMENTS 2.3).
 *
 * Each attempt waits 5 s for the ack. An attempt that got no answer is repeated after 1 s,
 * 2 s, 4 s with the same `clientMessageId`; after the 4th the message is `failed`. Time
 * spent disconnected does not count: the message waits, queued, for the connection.
 * `rate_limited` waits `retryAfterMs` and does not count either; `unavailable` and
 * `internal` count like a lost ack; `forbidden`, `not_found` and `invalid_payload` fail at once.
 * The same rules hold over HTTP (PROTOCOL §7): each attempt goes where the messages mode says.
 */

import { ACK_TIMEOUT_MS, SEND_RETRY_DELAYS_MS } from "./backoff.js";
import { ClientClosed, NotConnected, ParleyError, errorFromAck, isRecord } from "./errors.js";
import type { WireMessage } from "./models.js";
import type { Outbox, OutboxItem } from "./outbox.js";
import { TimeoutError, type Timers, sleep, within } from "./timers.js";

/** Where attempts go: the socket's `message:send` or HTTP (`MessageRoute`), answered like the socket's ack. */
export interface SendPort {
  /** Resolves when an attempt can be made (connected; over HTTP, online); rejects with `ClientClosed`. */
  ready(): Promise<void>;
  /** One attempt: the ack, or `NotConnected` when the link was not there. */
  send(payload: { conversationId: string; clientMessageId: string; body: string }): Promise<unknown>;
}

export interface SendAck {
  ok: true;
  message: WireMessage;
  duplicate: boolean;
}

export type Outcome = SendAck | ParleyError;

export class Sender {
  constructor(
    private readonly outbox: Outbox,
    private readonly port: SendPort,
    private readonly timers: Timers,
    private readonly onOutcome: (item: OutboxItem, outcome: Outcome) => void,
  ) {}

  /** Send the queue in order until the outbox is closed. */
  async run(): Promise<void> {
    for (;;) {
      const item = await this.outbox.next();
      if (item === null) return;
      let outcome: Outcome;
      try {
        outcome = await this.deliver(item);
      } catch (error) {
        if (error instanceof ClientClosed) return; // stays queued for the next start
        outcome = new ParleyError("internal", String(error)); // a bug must not stop the queue
      }
      await this.outbox.remove(item.clientMessageId);
      this.onOutcome(item, outcome);
    }
  }

  async deliver(item: OutboxItem): Promise<Outcome> {
    const payload = {
      conversationId: item.conversationId,
      clientMessageId: item.clientMessageId,
      body: item.body,
    };
    let unanswered = 0;
    for (;;) {
      await this.port.ready();
      let ack: unknown;
      try {
        ack = await within(this.timers, ACK_TIMEOUT_MS, this.port.send(payload));
      } catch (error) {
        if (error instanceof NotConnected) continue; // the link failed, not the server: uncounted
        if (!(error instanceof TimeoutError)) throw error;
        ack = undefined;
      }
      if (isSendAck(ack)) return ack;
      const error = ack === undefined ? new ParleyError("unavailable", "no answer in 5 s") : errorFromAck(ack);
      if (error.code === "rate_limited") {
        await sleep(this.timers, error.retryAfterMs ?? 1_000);
        continue;
      }
      if (!error.retryable) return error;
      unanswered += 1;
      const wait = SEND_RETRY_DELAYS_MS[unanswered - 1];
      if (wait === undefined) return error;
      await sleep(this.timers, wait);
    }
  }
}

function isSendAck(ack: unknown): ack is SendAck {
  return isRecord(ack) && ack["ok"] === true && isRecord(ack["message"]);
}
