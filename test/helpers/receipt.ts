import { expect } from 'vitest';

/** The `settled` callback a sink reports each window's outcome to; a window reported twice fails the test. */
export function receipt() {
  const outcomes = new Map<number, string>();
  return {
    outcomes,
    settled(timestamp: number, outcome: string) {
      expect(outcomes.has(timestamp), `window ${timestamp} settled twice`).toBe(false);
      outcomes.set(timestamp, outcome);
    },
  };
}
