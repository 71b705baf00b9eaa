/** A Prometheus sink on an ephemeral loopback port for tests: errors collected instead of warned, closed by the caller. */
import { prometheusSink, type PrometheusSink, type PrometheusSinkOptions } from '../../src/sinks/prometheus.js';

export async function startPrometheusSink(open: PrometheusSink[], options: PrometheusSinkOptions = {}): Promise<PrometheusSink & { errors: Error[] }> {
  const errors: Error[] = [];
  const sink = prometheusSink({ port: 0, host: '127.0.0.1', onError: (e) => errors.push(e), ...options });
  open.push(sink);
  await sink.ready;
  return Object.assign(sink, { errors });
}
