/**
 * Amazon SQS backlog: `ApproximateNumberOfMessages` (visible) + `ApproximateNumberOfMessagesNotVisible` (in
 * flight), optionally `ApproximateNumberOfMessagesDelayed`, from GetQueueAttributes, the numbers KEDA's
 * aws-sqs-queue scaler uses. One request per queue per window, cancelled by the window's AbortSignal.
 *
 *   import { SQSClient } from '@aws-sdk/client-sqs';
 *   metrics.gauge('queue.depth', { unit: '{message}', observe: sqsQueueDepth({ client: new SQSClient({}), queueUrl }) });
 *
 * The client is yours (any @aws-sdk/client-sqs v3 client); the command class is loaded from the same package
 * when the first observation runs, so scalesignal does not depend on the AWS SDK.
 */
import type { QueueDepthObserver, QueueDepthOptions } from './common.js';
import { list, readAll } from './common.js';

/** What is used of an SQSClient. */
export interface SqsClientLike {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

export interface SqsQueueDepthOptions extends QueueDepthOptions {
  client: SqsClientLike;
  queueUrl?: string;
  queueUrls?: readonly string[];
  /** Also count delayed messages. Default false. */
  includeDelayed?: boolean;
}

const STATES: Readonly<Record<string, string>> = {
  ApproximateNumberOfMessages: 'visible',
  ApproximateNumberOfMessagesNotVisible: 'in_flight',
  ApproximateNumberOfMessagesDelayed: 'delayed',
};

// A variable keeps bundlers from inlining the SDK; it resolves from the application's node_modules.
const SQS_PACKAGE = '@aws-sdk/client-sqs';
type SqsModule = typeof import('@aws-sdk/client-sqs');
let sqsModule: Promise<SqsModule> | undefined;

export function sqsQueueDepth(options: SqsQueueDepthOptions): QueueDepthObserver {
  const { client } = options;
  if (client === null || typeof client !== 'object' || typeof client.send !== 'function') {
    throw new TypeError('scalesignal: sqsQueueDepth needs { client }, an SQSClient');
  }
  const urls = list(options.queueUrl, options.queueUrls, '{ queueUrl } or { queueUrls }');
  const attributes = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'];
  if (options.includeDelayed) attributes.push('ApproximateNumberOfMessagesDelayed');
  return async (signal) => {
    const { GetQueueAttributesCommand } = await (sqsModule ??= import(SQS_PACKAGE) as Promise<SqsModule>);
    return readAll(urls, queueName, async (queueUrl) => {
      const command = new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: attributes as never });
      const output = (await client.send(command, { abortSignal: signal })) as { Attributes?: Record<string, string> };
      const counts: Record<string, number> = {};
      for (const name of attributes) {
        const value = Number(output.Attributes?.[name]);
        if (!Number.isFinite(value)) throw new Error(`SQS returned no ${name} for ${queueUrl}`);
        counts[STATES[name]] = value;
      }
      return counts;
    }, options);
  };
}

/** The queue name, the last path segment of its URL. */
function queueName(queueUrl: string): string {
  const path = queueUrl.replace(/\/+$/, '');
  return path.slice(path.lastIndexOf('/') + 1);
}
