/**
 * HTTP Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns the wait in ms, or undefined when
 * the header is absent or unreadable (the caller then uses its own backoff).
 */
export function parseRetryAfterMs(value: string | readonly string[] | undefined, now = Date.now()): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value) as string | undefined;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // IMF-fixdate, or the obsolete RFC 850 / asctime forms, all of which Date.parse reads.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
