/**
 * Time, injectable: every timing rule of the SDK goes through a {@link Timers}. The default
 * looks `setTimeout` up on `globalThis` at each call, so fake timers (vitest's, Jest's,
 * Playwright's clock) drive the SDK too.
 */

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds on the wall clock. */
  now(): number;
}

interface TimerGlobals {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const host = (): TimerGlobals => globalThis as unknown as TimerGlobals;

export const systemTimers: Timers = {
  setTimeout: (callback, ms) => host().setTimeout(callback, ms),
  clearTimeout: (handle) => host().clearTimeout(handle),
  now: () => Date.now(),
};

/** A wait that can be ended early: `wake()` resolves `done` at once. */
export interface Pause {
  readonly done: Promise<void>;
  wake(): void;
}

export function pause(timers: Timers, ms: number): Pause {
  let wake = (): void => undefined;
  const done = new Promise<void>((resolve) => {
    const handle = timers.setTimeout(resolve, Math.max(0, ms));
    wake = () => {
      timers.clearTimeout(handle);
      resolve();
    };
  });
  return { done, wake };
}

export function sleep(timers: Timers, ms: number): Promise<void> {
  return pause(timers, ms).done;
}

export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** `work`'s result, or a {@link TimeoutError} after `ms`. */
export function within<T>(timers: Timers, ms: number, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const handle = timers.setTimeout(() => reject(new TimeoutError(`no answer in ${ms} ms`)), ms);
    work.then(
      (value) => {
        timers.clearTimeout(handle);
        resolve(value);
      },
      (error: unknown) => {
        timers.clearTimeout(handle);
        reject(error);
      },
    );
  });
}
