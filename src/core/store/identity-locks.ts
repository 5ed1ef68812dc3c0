import { hash } from 'node:crypto';
import type { Sql } from './db.js';

// Blocking keys lock coarsely: a bounded number of lock rows however many keys the store files.
// They must lock: a batch resolved beside another that files the same keys would not see its
// records, and one person would start two profiles (in a test, every FEBRL duplicate was missed).
const BLOCK_LOCK_BUCKETS = 1n << 20n;

/** A lock key: the first 64 bits of the text's SHA-256, as a signed bigint. */
function lockKey(text: string): bigint {
  // The one-shot hash in hex is four times cheaper than a Hash object and a Buffer per key (a few keys a record).
  return BigInt.asIntN(64, BigInt(`0x${hash('sha256', text).slice(0, 16)}`));
}

export function recordLock(source: string, sourceId: string): string {
  return String(lockKey(`r\u0000${source}\u0000${sourceId}`));
}

export function identifierLock(type: string, value: string): string {
  return String(lockKey(`i\u0000${type}\u0000${value}`));
}

export function blockLock(block: string): string {
  return String(lockKey(`b\u0000${block}`) % BLOCK_LOCK_BUCKETS);
}

/**
 * Keys as one PostgreSQL array literal, each once. Built here (decimal digits need no quoting)
 * rather than by pg from an array, which escapes and concatenates key by key: at a few thousand keys
 * a batch that was the largest allocation of a hub's ingest (a heap sampling profile). The
 * statements sort the keys themselves (ORDER BY k).
 */
function keyArray(keys: Iterable<string>): string {
  return `{${[...new Set(keys)].join(',')}}`;
}

/**
 * Takes every key, waiting for the transactions that hold any of them, in sorted order (so two
 * transactions never wait for each other). ON CONFLICT DO UPDATE locks the existing row even when
 * its WHERE is false (nothing is written); a key another transaction is inserting makes this one
 * wait for it.
 */
export async function waitForLocks(tx: Sql, keys: Iterable<string>): Promise<void> {
  await tx.query(
    `INSERT INTO identity_locks (key) SELECT k FROM unnest($1::bigint[]) k ORDER BY k
     ON CONFLICT (key) DO UPDATE SET key = excluded.key WHERE false`,
    [keyArray(keys)],
    { name: 'wait-for-locks' },
  );
}

/**
 * Creates the lock rows of keys that have none, in a statement of its own (autocommit): a row
 * inserted inside a transaction would make every other transaction that needs the key wait for
 * that whole transaction, even one that only tries the key (takeFreeLocks).
 */
export async function ensureLockRows(db: Sql, keys: Iterable<string>): Promise<void> {
  await db.query(`INSERT INTO identity_locks (key) SELECT k FROM unnest($1::bigint[]) k ORDER BY k ON CONFLICT (key) DO NOTHING`, [keyArray(keys)], {
    name: 'ensure-lock-rows',
  });
}

/**
 * Takes the keys no other transaction holds, without waiting; gives the ones it could not take
 * (a few, where the batch meets another in flight: answering every key taken was three rows a
 * record to send and parse). A key whose row is missing (an erasure deleted it since
 * ensureLockRows) counts as not taken.
 */
export async function takeFreeLocks(tx: Sql, keys: Iterable<string>): Promise<Set<string>> {
  const rows = (
    await tx.query<{ key: string }>(
      // Each key probes the index once, and every free row is locked, as the outer side is read
      // whole. With `key = ANY` the planner scanned the whole table for a few thousand keys while it
      // was small (the first hundred thousand records), at a cost growing with it.
      `SELECT k::text AS key FROM unnest($1::bigint[]) k
         LEFT JOIN LATERAL (SELECT key FROM identity_locks WHERE key = k FOR UPDATE SKIP LOCKED) l ON true
        WHERE l.key IS NULL`,
      [keyArray(keys)],
      { name: 'take-free-locks' },
    )
  ).rows;
  return new Set(rows.map((r) => r.key));
}
