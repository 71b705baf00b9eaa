/**
 * Opt-in signal handling (`handleSignals: true`): on SIGTERM or SIGINT, shut the metrics down within their
 * deadline, then let the process end as it would have without us. Kubernetes sends SIGTERM and waits
 * terminationGracePeriodSeconds (30 s by default) before SIGKILL; the default 5 s deadline fits well inside.
 *
 * A listener for SIGTERM replaces Node's default (exit), so after flushing: when no other listener is left the
 * signal is raised again with ours removed, and the process ends with the signal's usual status; when the app
 * has its own listener, exiting is the app's decision.
 */
import type { Metrics } from '../core/api.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export function handleSignals(metrics: Metrics): () => void {
  let handling = false;
  const listener = (signal: NodeJS.Signals) => {
    if (handling) return;
    handling = true;
    void metrics.shutdown().finally(() => {
      remove();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  };
  const remove = () => {
    for (const signal of SIGNALS) process.removeListener(signal, listener);
  };
  for (const signal of SIGNALS) process.on(signal, listener);
  return remove;
}
