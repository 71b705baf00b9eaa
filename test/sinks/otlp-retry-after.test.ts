import { describe, expect, it } from 'vitest';
import { parseRetryAfterMs } from '../../src/sinks/otlp/retry-after.js';

describe('parseRetryAfterMs (RFC 9110 Retry-After)', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  it.each([
    ['120', 120_000],
    [' 3 ', 3000],
    ['0', 0],
    ['Thu, 01 Jan 2026 12:00:30 GMT', 30_000], // IMF-fixdate
    ['Thursday, 01-Jan-26 12:00:10 GMT', 10_000], // RFC 850
    ['Thu, 01 Jan 2026 11:00:00 GMT', 0], // in the past: no wait
  ])('%j -> %i ms', (value, ms) => {
    expect(parseRetryAfterMs(value, now)).toBe(ms);
  });
  it.each([undefined, '', '-1', '1.5', 'soon', '12abc'])('%j -> undefined', (value) => {
    expect(parseRetryAfterMs(value, now)).toBeUndefined();
  });
  it('takes the first of repeated headers', () => {
    expect(parseRetryAfterMs(['2', '9'], now)).toBe(2000);
  });
});
