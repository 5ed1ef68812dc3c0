import { isHubError } from '../errors.js';

// PostgreSQL SQLSTATE classes and codes that mean "try again later", not "this data is bad":
// 08 connection, 53 insufficient resources, 57P0x shutdown, 40001 serialization, 40P01 deadlock.
const TRANSIENT_SQLSTATE = /^(08|53|57P0|40001|40P01|55P03)/;
const TRANSIENT_NODE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** True for outages (database or network down, deadlock): the whole job retries with backoff. */
export function isTransient(err: unknown): boolean {
  if (isHubError(err)) return err.retryable;
  if (err instanceof AggregateError) return err.errors.some(isTransient);
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (TRANSIENT_SQLSTATE.test(code) || TRANSIENT_NODE.has(code));
}
