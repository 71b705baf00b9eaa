/**
 * The CloudWatch namespace: given explicitly (validated at configuration), else the service name made valid.
 * Valid means 1..255 characters of `[a-zA-Z0-9 ._#:/-]` with one non-space, not starting with `:` (API model)
 * and not `AWS/...` (reserved for AWS services).
 */
import { ConfigError } from '../../core/errors.js';
import { MAX_NAMESPACE_LENGTH } from './limits.js';

/** Used when the service name has nothing a namespace can keep. */
export const FALLBACK_NAMESPACE = 'ScaleSignal';
const ALLOWED = /^[a-zA-Z0-9 ._#:/-]+$/;

/** An explicit namespace (option or environment variable): returned as is, or a ConfigError saying why not. */
export function validateNamespace(namespace: unknown, where: string): string {
  if (typeof namespace !== 'string' || namespace.trim() === '' || namespace.length > MAX_NAMESPACE_LENGTH) {
    throw new ConfigError(`${where}: namespace must be 1 to ${MAX_NAMESPACE_LENGTH} characters, got ${JSON.stringify(namespace)}`);
  }
  if (!ALLOWED.test(namespace)) {
    throw new ConfigError(`${where}: namespace ${JSON.stringify(namespace)} may contain only letters, digits, spaces and . _ # : / -`);
  }
  if (namespace.startsWith(':')) throw new ConfigError(`${where}: namespace must not start with ":"`);
  if (namespace.startsWith('AWS/')) throw new ConfigError(`${where}: namespaces starting with "AWS/" are reserved for AWS services`);
  return namespace;
}

/** The service name as a namespace: other characters become `_`, a leading `:` or `AWS/` is removed. */
export function namespaceFromService(service: string): string {
  let name = service.replace(/[^a-zA-Z0-9 ._#:/-]/g, '_');
  while (name.startsWith(':') || name.startsWith('AWS/')) name = name.startsWith(':') ? name.slice(1) : name.slice(4);
  name = name.slice(0, MAX_NAMESPACE_LENGTH);
  return name.trim() === '' ? FALLBACK_NAMESPACE : name;
}
