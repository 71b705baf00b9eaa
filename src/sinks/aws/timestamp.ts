/**
 * The epoch-ms second a window is reported at. `Window.timestamp` (the interval start, one window per timestamp
 * even when flush() cuts a second) is what push sinks stamp; a window from a core that does not set it yet is
 * reported at its start, which is the same second for every uncut window.
 */
import type { Window } from '../../core/window.js';

export function windowTimestamp(window: Window): number {
  return (window as Window & { readonly timestamp?: number }).timestamp ?? window.start;
}
