/**
 * `scalesignal manifests`: what a user typing flags sees. Every bad flag is named with what it allows, on stderr,
 * with exit status 2 and nothing on stdout; good flags give YAML that parses. One case runs the real executable
 * (src/cli/bin.ts under tsx) to check the exit status and streams end to end.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { main, USAGE } from '../../src/cli/main.js';
import { DEFAULT_TARGETS } from '../../src/cli/targets.js';

function run(...args: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('scalesignal CLI', () => {
  it('--help lists every flag and the allowed paths, exit 0', () => {
    for (const args of [['--help'], ['manifests', '--help'], ['manifests', '-h']]) {
      const r = run(...args);
      expect(r.code).toBe(0);
      expect(r.out).toBe(USAGE);
    }
    for (const flag of ['--service', '--path', '--target', '--route', '--namespace', '--region', '--cloudwatch-source', '--sqs-queue-url', '--rabbitmq-queue', '--no-deployment']) {
      expect(USAGE).toContain(flag);
    }
    expect(USAGE).toContain('metrics-api | prometheus | cloudwatch | queues | hpa');
    expect(USAGE).toContain(`inflight=${DEFAULT_TARGETS.inflight}`);
  });

  it('no command prints the usage and fails; an unknown command names the allowed one', () => {
    expect(run().code).toBe(2);
    const r = run('manifest');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown command "manifest"; allowed: manifests/);
  });

  const bad: ReadonlyArray<[string[], RegExp]> = [
    [['--path', 'metrics-api'], /--service is required/],
    [['--service', 'checkout', '--paht', 'prometheus'], /--paht is not a flag of scalesignal manifests; allowed: .*--path/],
    [['--service', 'checkout', '--path', 'prom'], /--path must be one of metrics-api, prometheus, cloudwatch, queues, hpa, got "prom"/],
    [['--service', 'checkout', '--target', 'latency=250'], /--target "latency=250": unknown indicator "latency"; allowed: inflight=<n>, p99=<n>, sse=<n>, queue=<n>/],
    [['--service', 'checkout', '--target', 'p99=fast'], /--target "p99=fast": p99 needs a positive duration: 250ms, 0\.25s or 250 \(ms\)/],
    [['--service', 'checkout', '--target', 'inflight=-3'], /--target "inflight=-3": inflight needs a positive integer/],
    [['--service', 'checkout', '--target', 'inflight=5', '--target', 'inflight=6'], /--target gives inflight twice/],
    [['--service', 'checkout', '--target', 'p99=250ms'], /--route --target p99 on --path metrics-api needs at least one --route "METHOD \/template"/],
    [['--service', 'checkout', '--path', 'hpa', '--target', 'p99=250'], /--target p99 cannot drive --path hpa; allowed there: sse, inflight/],
    [['--service', 'checkout', '--route', '/pay'], /--route must be "<METHOD> <route template>"/],
    [['--service', 'checkout', '--route', 'FETCH /pay', '--target', 'p99=1'], /--route method must be one of GET, HEAD, POST/],
    [['--service', 'Checkout'], /--service must be a DNS label/],
    [['--service', 'checkout', '--min', '0'], /--min must be an integer >= 1/],
    [['--service', 'checkout', '--min', '5', '--max', '3'], /--max must be an integer >= --min \(5\)/],
    [['--service', 'checkout', '--max', 'many'], /--max must be an integer, got "many"/],
    [['--service', 'checkout', '--metrics-port', '8080'], /--metrics-port must differ from --http-port \(8080\)/],
    [['--service', 'checkout', '--path', 'cloudwatch'], /--region is required for --path cloudwatch/],
    [['--service', 'checkout', '--path', 'cloudwatch', '--region', 'europe'], /--region must be an AWS Region such as eu-west-1/],
    [['--service', 'checkout', '--path', 'cloudwatch', '--region', 'eu-west-1', '--cloudwatch-source', 'logs'], /--cloudwatch-source must be one of emf, putmetricdata, got "logs"/],
    [['--service', 'checkout', '--path', 'cloudwatch', '--region', 'eu-west-1', '--cloudwatch-namespace', 'AWS/EC2'], /--cloudwatch-namespace must be 1 to 255 characters and not start with "AWS\/"/],
    [['--service', 'w', '--path', 'queues', '--region', 'eu-west-1', '--sqs-queue-url', 'jobs'], /--sqs-queue-url must be a queue URL/],
    [['--service', 'w', '--sqs-queue-url', 'https://sqs.eu-west-1.amazonaws.com/1/jobs'], /--sqs-queue-url only applies to --path queues/],
    [['--service', 'checkout', '--no-deployment=yes'], /--no-deployment takes no value/],
    [['--service', 'checkout', 'prometheus'], /"prometheus" is not a flag/],
    [['--service'], /--service needs a value/],
  ];
  for (const [args, message] of bad) {
    it(`rejects ${args.join(' ')}`, () => {
      const r = run('manifests', ...args);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/^scalesignal manifests: /);
      expect(r.err).toMatch(message);
    });
  }

  it('prints parseable YAML for the user\'s service, names and targets', () => {
    const r = run('manifests', '--service', 'checkout', '--path', 'metrics-api', '--target', 'inflight=40', '--target', 'p99=0.3s', '--route', 'post /pay');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out.split('\n')[0]).toBe("# Generated by: scalesignal manifests --service checkout --path metrics-api --target inflight=40 --target p99=0.3s --route 'post /pay'");
    const docs = parseAllDocuments(r.out).map((d) => d.toJS());
    expect(docs.map((d) => d.kind)).toEqual(['Deployment', 'Service', 'ScaledObject']);
    const triggers = docs[2].spec.triggers;
    expect(triggers.map((t: { name: string }) => t.name)).toEqual(['inflight', 'p99-post-pay']);
    expect(triggers[0].metadata.targetValue).toBe('40');
    expect(triggers[1].metadata.targetValue).toBe('300');
    expect(triggers[1].metadata.valueLocation).toBe('http_server_request_duration_milliseconds_p99{method="POST",route="/pay"}');
  });

  it('the executable exits 2 with the message on stderr, 0 with YAML on stdout', async () => {
    const exec = promisify(execFile);
    const bin = new URL('../../src/cli/bin.ts', import.meta.url).pathname;
    const failed = await exec(process.execPath, ['--import', 'tsx', bin, 'manifests', '--service', 'checkout', '--path', 'nope']).then(
      () => undefined,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stdout).toBe('');
    expect(failed?.stderr).toMatch(/--path must be one of metrics-api, prometheus, cloudwatch, queues, hpa/);
    const ok = await exec(process.execPath, ['--import', 'tsx', bin, 'manifests', '--service', 'checkout', '--no-deployment']);
    expect(parseAllDocuments(ok.stdout).map((d) => d.toJS().kind)).toEqual(['ScaledObject']);
  });
});
