import { describe, expect, it } from "vitest";

import { reconnectDelay } from "../src/backoff.js";

describe("reconnectDelay", () => {
  it("doubles from 1 s and stops at 30 s", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 20].map((a) => reconnectDelay(a))).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
  });

  it("jitters within ±50% and never past 30 s", () => {
    expect(reconnectDelay(2, () => 0)).toBe(2_000);
    expect(reconnectDelay(2, () => 0.5)).toBe(4_000);
    expect(reconnectDelay(2, () => 0.999_999)).toBeCloseTo(6_000, 0);
    expect(reconnectDelay(5, () => 0.999_999)).toBe(30_000);
    expect(reconnectDelay(5, () => 0)).toBe(15_000);
  });
});
