/** The timing rules of PROTOCOL §6 and REQUIREMENTS 2.3, 2.6, 2.8 in one place (milliseconds). */

export const ACK_TIMEOUT_MS = 5_000;
/** Waits after the 1st, 2nd and 3rd unanswered attempt; after the 4th the message is `failed`. */
export const SEND_RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000];
export const RECONNECT_BASE_MS = 1_000;
export const RECONNECT_MAX_MS = 30_000;
/** Reconnect delays vary by ±50% so that clients dropped together do not return together. */
export const JITTER = 0.5;
/** Longest wait for one connection attempt (handshake included). */
export const CONNECT_TIMEOUT_MS = 5_000;
/** `typing:stop` after this long without a keystroke. */
export const TYPING_IDLE_MS = 2_000;
/** While typing goes on, `typing:start` is repeated at most this often, so others' 6 s expiry never hides it. */
export const TYPING_REFRESH_MS = 3_000;
/** Hide someone's typing indicator after this long without news. */
export const REMOTE_TYPING_TTL_MS = 6_000;
/** Re-sync this often even when nothing seems missing (a lost last message shows up). */
export const POSITION_CHECK_MS = 30_000;
/** Longest wait for the ack of a join, sync or receipt. */
export const REQUEST_TIMEOUT_MS = 2 * ACK_TIMEOUT_MS;

/**
 * Delay before reconnect attempt `attempt` (0-based): 1, 2, 4, 8 … 30 s. With `random`
 * (values in [0, 1)) each delay is moved by up to ±50%, and still capped at 30 s.
 */
export function reconnectDelay(attempt: number, random?: () => number): number {
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** Math.max(0, attempt));
  if (random === undefined) return base;
  const factor = 1 + (random() * 2 - 1) * JITTER;
  return Math.min(RECONNECT_MAX_MS, base * factor);
}
