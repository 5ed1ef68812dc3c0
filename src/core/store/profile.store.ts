import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { v7 as timeOrderedUuid } from 'uuid';
import type { Db, Sql } from './db.js';
import type { ReceivedRecord } from '../record.schema.js';
import { recordIdentifiers, type Identifier, type IdentifierType, type NormalizeOptions } from '../identity/normalize.js';
import { matchableFeatures, type MatchFeatures } from '../identity/match/features.js';
import { blockingKeys } from '../identity/match/blocking.js';
import { rankCandidates, type Filing } from '../identity/match/rank.js';
import { identifierKey, planBatch, type KnownRecord, type Edge, type MatchSettings, type Merge, type Plan, type ReviewPair } from '../identity/match/cluster.js';
import { extendProjection, projectTraits, searchText, type Projection, type TraitObservation, type TraitSource } from '../identity/survivorship.js';
import { HubError } from '../errors.js';
import { appendEvents, changedTraits, type HubEvent } from '../events/outbox.js';
import { blockLock, ensureLockRows, identifierLock, recordLock, takeFreeLocks, waitForLocks } from './identity-locks.js';

export type ResolveOptions = {
  normalize: NormalizeOptions;
  traitPriority: Readonly<Record<string, readonly string[]>>;
  matching: MatchSettings;
  /** Normalized identifiers that never link (`type\0value`). */
  blocked: ReadonlySet<string>;
};

/** What happened to one record of a resolved batch. */
export type ResolvedRecord = { source: string; sourceId: string; profileId: string; stale: boolean };

export type StoredRecord = {
  source: string;
  sourceId: string;
  kind: 'contact' | 'interaction';
  profileId: string;
  receivedAt: string;
  processedAt: string;
};

export type ProfileView = {
  id: string;
  createdAt: string;
  updatedAt: string;
  traits: Record<string, unknown>;
  traitSources: Record<string, TraitSource>;
  identifiers: { type: IdentifierType; value: string; sources: string[] }[];
  records: { source: string; sourceId: string; kind: string; lastSeenAt: string; linkReason: string | null; linkScore: number | null }[];
  stats: { records: number; interactions: number; firstSeenAt: string | null; lastInteractionAt: string | null; totalAmount: number };
};

export type TimelineItem = {
  source: string;
  sourceId: string;
  occurredAt: string;
  receivedAt: string;
  channel: string;
  [field: string]: unknown;
};

export type Page<T> = { data: T[]; nextCursor: string | null };

export type ProfileLookup = {
  identifier?: { type: IdentifierType; value: string };
  q?: string;
  updatedSince?: string;
  limit: number;
  cursor?: string;
};

const MAX_LOCK_ROUNDS = 20;
// A merge chain longer than this would mean a bug; the API follows at most this many hops.
const MAX_REDIRECTS = 10;

type Prepared = ReceivedRecord & { key: string; occurredAtIso: string; ids: readonly Identifier[]; features: MatchFeatures | null; blocks: string[] };

// Full blocking keys a process remembers (a few tens of MB at most).
const FULL_KEYS_REMEMBERED = 500_000;
// Records read per identifier to check a shared email or phone against (enough to tell a switchboard).
export const HOLDERS_PER_IDENTIFIER = 50;

function recordKey(source: string, sourceId: string): string {
  return `${source}\u0000${sourceId}`;
}

function iso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

const preparedNames = new Map<string, string>();

/**
 * A statement name per distinct query text (the filters given make the text): one name, one text.
 * Remembered: the texts are a handful (which filters are given), and hashing one per read showed.
 */
function preparedName(prefix: string, where: string[]): { name: string } {
  const key = `${prefix}\u0000${where.join(' AND ')}`;
  let name = preparedNames.get(key);
  if (name === undefined) {
    name = `${prefix}-${createHash('sha256').update(key.slice(prefix.length + 1)).digest('hex').slice(0, 16)}`;
    preparedNames.set(key, name);
  }
  return { name };
}

function encodeCursor(parts: unknown[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

type CursorPart = 'time' | 'uuid' | 'text';
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function validPart(kind: CursorPart, value: unknown): value is string {
  if (typeof value !== 'string') return false;
  if (kind === 'time') return !Number.isNaN(Date.parse(value));
  if (kind === 'uuid') return UUID_PATTERN.test(value);
  return true;
}

/** Reads a cursor this API returned; anything else (forged, truncated) is a 400, never a bad SQL cast. */
function decodeCursor(cursor: string, kinds: readonly CursorPart[]): string[] {
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts) && parts.length === kinds.length && kinds.every((kind, i) => validPart(kind, parts[i]))) return parts as string[];
  } catch {
    // falls through to the error below
  }
  throw new HubError('VALIDATION', 'cursor is not one this API returned', { errors: [{ path: '/querystring/cursor', message: 'invalid cursor' }] });
}

/**
 * A timestamp as the API writes it (toISOString: UTC, milliseconds, "Z"), written by PostgreSQL into
 * the JSON it builds. `US` keeps the microseconds, for cursors.
 */
function isoText(column: string, fraction: 'MS' | 'US' = 'MS'): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.${fraction}"Z"')`;
}

/** Adds a query parameter; gives its placeholder. */
function bind(params: unknown[], value: unknown): string {
  params.push(value);
  return `$${params.length}`;
}

/**
 * One profile in one round trip (the read path's cost is round trips, not rows): its row, its
 * identifiers, its latest records and its stats, as the API's JSON object, built by PostgreSQL so
 * that the API can pass it on without parsing and printing it again. Nothing is built for an id
 * merged into another. Exported so the benchmark's bare route runs the very same statement.
 */
export const PROFILE_QUERY = {
  name: 'get-profile',
  text: `SELECT p.merged_into, CASE WHEN p.merged_into IS NULL THEN json_build_object(
          'id', p.id,
          'createdAt', ${isoText('p.created_at')},
          'updatedAt', ${isoText('p.updated_at')},
          'traits', p.traits,
          'traitSources', p.trait_sources,
          'identifiers', COALESCE((
            SELECT json_agg(json_build_object('type', i.type, 'value', i.value, 'sources', i.sources) ORDER BY i.type, i.value)
              FROM (SELECT ri.type, ri.value, array_agg(DISTINCT ri.source ORDER BY ri.source) AS sources
                      FROM records r JOIN record_identifiers ri ON ri.source = r.source AND ri.source_id = r.source_id
                     WHERE r.profile_id = p.id GROUP BY ri.type, ri.value) i), '[]'),
          'records', COALESCE((
            SELECT json_agg(json_build_object('source', r.source, 'sourceId', r.source_id, 'kind', r.kind, 'lastSeenAt', ${isoText('r.received_at')},
                                              'linkReason', r.link_reason, 'linkScore', r.link_score)
                            ORDER BY r.occurred_at DESC, r.source, r.source_id)
              FROM (SELECT source, source_id, kind, received_at, occurred_at, link_reason, link_score FROM records WHERE profile_id = p.id
                     ORDER BY occurred_at DESC, source, source_id LIMIT 1000) r), '[]'),
          'stats', (
            SELECT json_build_object(
                     'records', count(*),
                     'interactions', count(*) FILTER (WHERE kind = 'interaction'),
                     'firstSeenAt', ${isoText('min(occurred_at)')},
                     'lastInteractionAt', ${isoText("max(occurred_at) FILTER (WHERE kind = 'interaction')")},
                     -- An order, its invoice and its payment are one sale told three times: count the most
                     -- settled stage the profile's sources report (payments, else invoices, else orders).
                     'totalAmount', COALESCE(
                       sum((interaction->>'amount')::numeric) FILTER (WHERE interaction->>'channel' = 'payment' AND jsonb_typeof(interaction->'amount') = 'number'),
                       sum((interaction->>'amount')::numeric) FILTER (WHERE interaction->>'channel' = 'invoice' AND jsonb_typeof(interaction->'amount') = 'number'),
                       sum((interaction->>'amount')::numeric) FILTER (WHERE interaction->>'channel' = 'order' AND jsonb_typeof(interaction->'amount') = 'number'),
                       0))
              FROM records WHERE profile_id = p.id)) END AS profile
     FROM profiles p WHERE p.id = $1`,
};

/**
 * The statement of a profile lookup: live profiles by identifier, name or company, or change date,
 * in (updated_at, id) order, one more than the page to tell if another follows; each as the API's
 * JSON object, built by PostgreSQL. Exported so the benchmark's bare route runs the very same
 * statement.
 */
export function findProfilesQuery(lookup: ProfileLookup): { name: string; text: string; params: unknown[] } {
  const where = ['p.merged_into IS NULL'];
  const params: unknown[] = [];
  if (lookup.identifier) {
    where.push(
      `p.id IN (SELECT r.profile_id FROM record_identifiers ri JOIN records r ON r.source = ri.source AND r.source_id = ri.source_id
                 WHERE ri.type = ${bind(params, lookup.identifier.type)} AND ri.value = ${bind(params, lookup.identifier.value)})`,
    );
  }
  if (lookup.q) {
    const pattern = `%${lookup.q.normalize('NFKC').toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(`p.search_text LIKE ${bind(params, pattern)}`);
  }
  if (lookup.updatedSince) where.push(`p.updated_at >= ${bind(params, lookup.updatedSince)}`);
  if (lookup.cursor) {
    const [updatedAt, id] = decodeCursor(lookup.cursor, ['time', 'uuid']);
    where.push(`(p.updated_at, p.id) > (${bind(params, updatedAt)}::timestamptz, ${bind(params, id)}::uuid)`);
  }
  // The cursor keeps updated_at to the microsecond: cut to milliseconds, it would sort before the
  // row it came from, and the next page would start with that row again.
  const text = `SELECT json_build_object('id', p.id, 'createdAt', ${isoText('p.created_at')}, 'updatedAt', ${isoText('p.updated_at')}, 'traits', p.traits) AS profile,
               p.id, ${isoText('p.updated_at', 'US')} AS position
          FROM profiles p WHERE ${where.join(' AND ')}
         ORDER BY p.updated_at, p.id LIMIT ${bind(params, lookup.limit + 1)}`;
  return { ...preparedName('find-profiles', where), text, params };
}

export function createProfileStore(db: Db, options: ResolveOptions) {
  const fieldSpecs = options.matching.rules.fields;
  // Blocking keys found filed under more than candidatesPerKey records. A key only fills up (an
  // erasure may free one, which then stays unread until this process forgets it), so each is probed
  // once per process instead of by every batch that has it: at 500,000 people, counting full keys
  // was the costliest read of a record. Forgotten all at once when the set grows too large.
  const fullKeys = new Set<string>();
  const rememberFull = (key: string) => {
    if (fullKeys.size >= FULL_KEYS_REMEMBERED) fullKeys.clear();
    fullKeys.add(key);
  };

  function prepare(records: ReceivedRecord[]): Prepared[] {
    const newest = new Map<string, Prepared>();
    for (const r of records) {
      const key = recordKey(r.source, r.sourceId);
      const previous = newest.get(key);
      if (previous && previous.receivedAt > r.receivedAt) continue;
      const ids = recordIdentifiers(r, options.normalize);
      const features = matchableFeatures(r.traits ?? {}, ids, fieldSpecs);
      newest.set(key, { ...r, key, occurredAtIso: iso(r.occurredAt ?? r.receivedAt), ids, features, blocks: features ? blockingKeys(features) : [] });
    }
    return [...newest.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  type Holder = { type: string; value: string; profile_id: string; source: string; source_id: string; match: MatchFeatures | null };
  type Candidate = { keys: string[]; source: string; source_id: string; profile_id: string; match: MatchFeatures | null; created_at: Date };

  /**
   * Reads what the batch involves: its stored versions, the records holding its identifiers, the
   * candidates under its usable blocking keys, and their profiles (unlocked: resolveBatch locks only
   * those its plan touches).
   */
  async function readAround(tx: Sql, batch: Prepared[], open: readonly string[], run: number | null) {
    // A re-resolution run links a record only to records it has already placed, as if they were all
    // the store held: it rebuilds the clusters fresh ingestion would have made.
    const placed = run === null ? '' : `AND r.resolve_run = ${Number(run)}`;
    const recordKeys = JSON.stringify(batch.map((r) => [r.source, r.sourceId]));
    const idKeys = JSON.stringify(batch.flatMap((r) => r.ids.map((i) => [i.type, i.value])));
    const existing = (
      await tx.query<{ source: string; source_id: string; profile_id: string; received_at: Date }>(
        `SELECT r.source, r.source_id, r.profile_id, r.received_at
           FROM records r JOIN jsonb_array_elements($1::jsonb) k ON r.source = k->>0 AND r.source_id = k->>1`,
        [recordKeys],
      )
    ).rows;
    const holders = (
      await tx.query<Holder>(
        `SELECT k->>0 AS type, k->>1 AS value, h.profile_id, h.source, h.source_id, h.match
           FROM jsonb_array_elements($1::jsonb) k
           CROSS JOIN LATERAL (
             SELECT r.profile_id, r.source, r.source_id, r.match
               FROM record_identifiers ri JOIN records r ON r.source = ri.source AND r.source_id = ri.source_id
              WHERE ri.type = k->>0 AND ri.value = k->>1 ${placed} LIMIT ${HOLDERS_PER_IDENTIFIER}) h`,
        [idKeys],
      )
    ).rows;
    const { candidates, keyCounts } = await readCandidates(tx, batch, open, run);
    // The candidates' profiles came with them; the rest are read here.
    const created = new Map(candidates.map((c) => [c.profile_id, c.created_at.getTime()]));
    const ids = [...new Set([...existing.map((e) => e.profile_id), ...holders.map((l) => l.profile_id)])].filter((id) => !created.has(id)).sort();
    if (ids.length > 0) {
      const rows = (
        await tx.query<{ id: string; created_at: Date }>(`SELECT id, created_at FROM profiles WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)`, [
          JSON.stringify(ids),
        ])
      ).rows;
      for (const p of rows) created.set(p.id, p.created_at.getTime());
    }
    return { existing, holders, candidates, created, keyCounts };
  }

  type Reads = Awaited<ReturnType<typeof readAround>>;

  /**
   * Per batch record, its candidates among the stored records under its usable keys, ranked as
   * planBatch ranks them (rank.ts), at most candidatesPerRecord of them, with their features. One probe
   * per key reads up to candidatesPerKey + 1 records on the index: that both counts the key (more
   * than candidatesPerKey: too common to find candidates by, remembered as full) and gives its
   * records, ranked here; only the chosen ones are fetched. Gives the counts of every batch key.
   */
  async function readCandidates(tx: Sql, batch: Prepared[], open: readonly string[], run: number | null): Promise<{ candidates: Candidate[]; keyCounts: Map<string, number> }> {
    const cap = options.matching.candidatesPerKey;
    const keyCounts = new Map<string, number>();
    if (!options.matching.enabled) return { candidates: [], keyCounts };
    for (const r of batch) for (const key of r.blocks) keyCounts.set(key, cap + 1);
    if (open.length === 0) return { candidates: [], keyCounts };
    const placed = run === null ? '' : `JOIN records r ON r.source = m.source AND r.source_id = m.source_id AND r.resolve_run = ${Number(run)}`;
    // One row per key with its records as one JSON array (parsed natively, not row by row), and
    // none for a key found full: its records are not candidates.
    const probed = (
      await tx.query<{ key: string; n: number; filed: [string, string][] | null }>(
        `SELECT k AS key, count(*)::int AS n, CASE WHEN count(*) <= $3 THEN json_agg(json_build_array(m.source, m.source_id)) END AS filed
           FROM jsonb_array_elements_text($1::jsonb) k
          CROSS JOIN LATERAL (SELECT m.source, m.source_id FROM match_keys m ${placed} WHERE m.key = k LIMIT $2) m
          GROUP BY k`,
        [JSON.stringify(open), cap + 1, cap],
      )
    ).rows;
    for (const key of open) keyCounts.set(key, 0);
    type Filed = { key: string; source: string; source_id: string };
    const byKey = new Map<string, Filed[]>();
    for (const { key, n, filed } of probed) {
      keyCounts.set(key, n);
      if (filed) byKey.set(key, filed.map(([source, sourceId]) => ({ key: recordKey(source, sourceId), source, source_id: sourceId })));
      else if (run === null) rememberFull(key);
    }
    const chosen = new Map<string, { source: string; source_id: string; keys: Set<string> }>();
    for (const r of batch) {
      const filings: Filing<Filed>[] = [];
      for (const key of r.blocks) {
        const under = byKey.get(key) ?? [];
        for (const f of under) filings.push({ id: f.key, block: key, filed: under.length, item: f });
      }
      for (const { item: f } of rankCandidates(filings, options.matching.candidatesPerRecord)) {
        if (!chosen.has(f.key)) chosen.set(f.key, { source: f.source, source_id: f.source_id, keys: new Set<string>() });
      }
    }
    if (chosen.size === 0) return { candidates: [], keyCounts };
    for (const [key, under] of byKey) for (const f of under) chosen.get(f.key)?.keys.add(key);
    const rows = (
      await tx.query<Omit<Candidate, 'keys'>>(
        `SELECT r.source, r.source_id, r.profile_id, r.match, p.created_at FROM jsonb_array_elements($1::jsonb) k
           JOIN records r ON r.source = k->>0 AND r.source_id = k->>1 JOIN profiles p ON p.id = r.profile_id`,
        [JSON.stringify([...chosen.values()].map((c) => [c.source, c.source_id]))],
      )
    ).rows;
    return { candidates: rows.map((row) => ({ ...row, keys: [...(chosen.get(recordKey(row.source, row.source_id))?.keys ?? [])] })), keyCounts };
  }

  type Locked = { id: string; merged_into: string | null; traits: Record<string, unknown>; trait_sources: Record<string, TraitSource> };

  /** The locked profiles' projections, or null if one of them was merged away since it was read (its records moved: the batch must be read and planned again). */
  function lockedProjections(rows: Locked[]): Map<string, Projection> | null {
    return rows.every((r) => r.merged_into === null) ? new Map(rows.map((r) => [r.id, { traits: r.traits, traitSources: r.trait_sources }])) : null;
  }

  /** Locks the profiles a plan changes, in id order; gives their projections (lockedProjections). */
  async function lockLive(tx: Sql, profileIds: string[]): Promise<Map<string, Projection> | null> {
    const rows = (
      await tx.query<Locked>(
        `SELECT id::text, merged_into, traits, trait_sources FROM profiles WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY id FOR UPDATE`,
        [JSON.stringify(profileIds.sort())],
      )
    ).rows;
    return lockedProjections(rows);
  }

  /** Locks the profiles a plan changes that no other transaction holds, without waiting; gives the projections of the ones locked (lockedProjections). */
  async function lockFree(tx: Sql, profileIds: string[]): Promise<Map<string, Projection> | null> {
    const rows = (
      await tx.query<Locked>(
        `SELECT id::text, merged_into, traits, trait_sources FROM profiles WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) FOR UPDATE SKIP LOCKED`,
        [JSON.stringify(profileIds)],
      )
    ).rows;
    return lockedProjections(rows);
  }

  /** Profile pairs that must stay apart, among the profiles a batch involves. */
  async function constraintsAmong(tx: Sql, profileIds: string[]): Promise<[string, string][]> {
    if (profileIds.length === 0) return [];
    const rows = (
      await tx.query<{ a: string; b: string }>(
        // Driven by the constraints, each probing its two records by key (LIMIT 1, a key being unique,
        // keeps the probes from being turned into joins): constraints are few (one per split or
        // dismissed pair, often none), and the joins the planner chose read every record twice a batch.
        `SELECT ra.profile_id AS a, rb.profile_id AS b FROM merge_constraints c
          CROSS JOIN LATERAL (SELECT profile_id FROM records WHERE source = c.a_source AND source_id = c.a_source_id LIMIT 1) ra
          CROSS JOIN LATERAL (SELECT profile_id FROM records WHERE source = c.b_source AND source_id = c.b_source_id LIMIT 1) rb
          WHERE ra.profile_id = ANY($1::uuid[]) OR rb.profile_id = ANY($1::uuid[])`,
        [profileIds],
      )
    ).rows;
    return rows.filter((r) => r.a !== r.b).map((r) => [r.a, r.b]);
  }

  /**
   * Stores a batch of records and links each to its profile: records that share an identifier end
   * in one profile, and a record that links several profiles merges them into the oldest.
   * Serialized on the identifiers involved (row locks on their keys), so many workers may resolve at
   * once. A version older than the stored one changes nothing.
   *
   * Two batches resolved at once nearly always share a few keys (one person's records arrive in
   * different batches): waiting for all of a batch's keys made the second batch wait for the whole
   * first one, and two workers were no faster than one. So the records whose keys are free are
   * resolved at once, in one transaction, and only the others (those sharing a key with a batch in
   * flight) wait for their keys, in a second transaction, as if they had come in a later batch.
   */
  async function resolveBatch(input: ReceivedRecord[], actor = 'pipeline', run: number | null = null): Promise<ResolvedRecord[]> {
    const prepared = prepare(input);
    if (prepared.length === 0) return [];
    // Keys known to be full are neither locked nor read: their count only grows, and nobody reads
    // them. A re-resolution counts only the records it has placed, so it knows none in advance.
    const usable = (key: string) => options.matching.enabled && (run !== null || !fullKeys.has(key));
    const openOf = (records: Prepared[]) => [...new Set(records.flatMap((r) => r.blocks))].filter(usable).sort();
    const lockKeys = new Map(
      prepared.map((r) => [
        r.key,
        [recordLock(r.source, r.sourceId), ...r.ids.map((i) => identifierLock(i.type, i.value)), ...r.blocks.filter(usable).map(blockLock)],
      ]),
    );
    const allKeys = [...new Set([...lockKeys.values()].flat())];
    await ensureLockRows(db, allKeys);
    const deferred: Prepared[] = [];
    const resolved = await db.transaction(async (tx) => {
      const missed = await takeFreeLocks(tx, allKeys);
      const ready: Prepared[] = [];
      for (const r of prepared) ((lockKeys.get(r.key) ?? []).some((k) => missed.has(k)) ? deferred : ready).push(r);
      return ready.length > 0 ? resolveLocked(tx, ready, openOf(ready), actor, run, deferred) : [];
    });
    if (deferred.length === 0) return resolved;
    const rest = await db.transaction(async (tx) => {
      await waitForLocks(tx, deferred.flatMap((r) => lockKeys.get(r.key) ?? []));
      return resolveLocked(tx, deferred, openOf(deferred), actor, run, null);
    });
    return [...resolved, ...rest];
  }

  /** Resolves records whose keys this transaction holds (resolveBatch). */
  async function resolveLocked(tx: Sql, prepared: Prepared[], open: readonly string[], actor: string, run: number | null, busy: Prepared[] | null): Promise<ResolvedRecord[]> {
    // Reads, plans, then locks the profiles the plan changes; if one was merged away meanwhile,
    // reads and plans again. With `busy`, a profile another transaction holds is not waited for:
    // the records that involve it are planned out and left in `busy`, for a later transaction.
    const setAside = new Set<Prepared>();
    const planRound = async () => {
      const reads = await readAround(tx, prepared, open, run);
      const constraints = await constraintsAmong(tx, [...reads.created.keys()]);
      let records = prepared.filter((r) => !setAside.has(r));
      let around: ReturnType<typeof surroundings> | undefined;
      for (;;) {
        const outcome = await planFor(reads, constraints, records);
        if (outcome === null) return null;
        if (outcome.blocked.size === 0) return outcome.round;
        const profilesOf = (around ??= surroundings(reads));
        const involved = new Set(records.filter((r) => profilesOf(outcome.round.plan, r).some((id) => outcome.blocked.has(id))));
        // Every profile a plan touches comes from some record's surroundings; if none is found,
        // the profiles are waited for instead, as without `busy`.
        if (involved.size === 0) {
          const waited = await lockLive(tx, [...outcome.blocked]);
          return waited ? { ...outcome.round, current: new Map([...outcome.round.current, ...waited]) } : null;
        }
        for (const r of involved) setAside.add(r);
        records = records.filter((r) => !involved.has(r));
      }
    };

    /** The stored profiles a record's plan may touch: its stored version's, its identifiers' holders', its candidates', its own. */
    function surroundings(reads: Reads): (plan: Plan, r: Prepared) => string[] {
      const add = (map: Map<string, string[]>, key: string, id: string) => {
        const list = map.get(key);
        if (list) list.push(id);
        else map.set(key, [id]);
      };
      const byRecord = new Map<string, string[]>();
      for (const e of reads.existing) add(byRecord, recordKey(e.source, e.source_id), e.profile_id);
      const byIdentifier = new Map<string, string[]>();
      for (const h of reads.holders) add(byIdentifier, identifierKey({ type: h.type as IdentifierType, value: h.value }), h.profile_id);
      const byBlock = new Map<string, string[]>();
      for (const c of reads.candidates) for (const k of c.keys) add(byBlock, k, c.profile_id);
      return (plan, r) => [
        ...(byRecord.get(r.key) ?? []),
        ...r.ids.flatMap((i) => byIdentifier.get(identifierKey(i)) ?? []),
        ...r.blocks.flatMap((b) => byBlock.get(b) ?? []),
        ...[plan.profileOf.get(r.key)].filter((id): id is string => id !== undefined),
      ];
    }

    async function planFor(reads: Reads, constraints: [string, string][], records: Prepared[]) {
      const { holders, candidates, created, keyCounts } = reads;
      const keys = new Set(records.map((r) => r.key));
      const existing = reads.existing.filter((e) => keys.has(recordKey(e.source, e.source_id)));
      const existingByKey = new Map(existing.map((e) => [recordKey(e.source, e.source_id), e]));
      const results: ResolvedRecord[] = [];
      const fresh: Prepared[] = [];
      for (const r of records) {
        const stored = existingByKey.get(r.key);
        if (run === null && stored && iso(stored.received_at) > r.receivedAt) results.push({ source: r.source, sourceId: r.sourceId, profileId: stored.profile_id, stale: true });
        else fresh.push(r);
      }

      const freshKeys = new Set(fresh.map((r) => r.key));
      const known = (row: { source: string; source_id: string; profile_id: string; match: MatchFeatures | null }): KnownRecord => ({
        key: recordKey(row.source, row.source_id),
        profileId: row.profile_id,
        features: row.match,
      });
      // A record of this batch is judged by its new version, not by its stored one.
      const linked = new Map<string, KnownRecord[]>();
      for (const h of holders) {
        const k = recordKey(h.source, h.source_id);
        if (freshKeys.has(k)) continue;
        const key = identifierKey({ type: h.type as IdentifierType, value: h.value });
        const list = linked.get(key);
        if (list) list.push(known(h));
        else linked.set(key, [known(h)]);
      }
      const byBlock = new Map<string, KnownRecord[]>();
      for (const c of candidates) {
        // A record of this batch is a candidate as its new version, in the batch.
        if (freshKeys.has(recordKey(c.source, c.source_id))) continue;
        for (const block of c.keys) {
          const list = byBlock.get(block);
          if (list) list.push(known(c));
          else byBlock.set(block, [known(c)]);
        }
      }
      const plan = planBatch(
        fresh.map((r) => ({
          key: r.key,
          ids: r.ids,
          features: r.features,
          blockingKeys: r.blocks,
          storedProfile: run === null ? (existingByKey.get(r.key)?.profile_id ?? null) : null,
        })),
        { profiles: created, linked, candidates: byBlock, keyCounts, constraints, blocked: options.blocked },
        options.matching,
        // Time-ordered ids: a new profile's rows go to the end of every index led by its id
        // (profiles, records by profile), not to a random page of an index larger than memory.
        timeOrderedUuid,
      );
      const placedProfiles = new Set([...holders.map((h) => h.profile_id), ...candidates.map((c) => c.profile_id)]);
      if (run !== null) keepProfileIds(plan, fresh, existingByKey, placedProfiles);
      for (const r of fresh) results.push({ source: r.source, sourceId: r.sourceId, profileId: plan.profileOf.get(r.key) ?? '', stale: false });
      // Candidates the plan leaves alone stay unlocked (most of them): locking is a write per row.
      const touched = new Set([...existing.map((e) => e.profile_id), ...plan.profileOf.values(), ...plan.merges.flatMap((m) => [m.survivor, m.merged]), ...plan.review.flatMap((p) => [p.a, p.b])]);
      const ids = [...touched].filter((id) => created.has(id));
      const base = { existingByKey, results, fresh, plan, keyCounts };
      if (busy === null) {
        const current = await lockLive(tx, ids);
        return current ? { round: { ...base, current }, blocked: new Set<string>() } : null;
      }
      const current = await lockFree(tx, ids);
      if (current === null) return null;
      return { round: { ...base, current }, blocked: new Set(ids.filter((id) => !current.has(id))) };
    }

    let round = null;
    for (let n = 0; n < MAX_LOCK_ROUNDS && !round; n += 1) round = await planRound();
    if (!round) throw new HubError('STORE_UNAVAILABLE', 'profiles kept merging under this batch; will retry');
    busy?.push(...setAside);
    const { existingByKey, results, fresh, plan, keyCounts, current } = round;
    const { newProfiles, merges } = plan;

    if (newProfiles.length > 0) {
      await tx.query('INSERT INTO profiles (id) SELECT jsonb_array_elements_text($1::jsonb)::uuid', [JSON.stringify(newProfiles)]);
    }
    if (merges.length > 0) await applyMerges(tx, merges, actor);
    if (plan.review.length > 0) await proposePairs(tx, plan.review);
    if (plan.shared.length > 0) await reportShared(tx, plan.shared);
    if (fresh.length > 0) await writeRecords(tx, fresh, existingByKey, results, plan.linkOf, keyCounts, run);
    const left = run === null ? [] : await retireEmptied(tx, fresh, existingByKey, plan.profileOf, actor);
    const known = run === null ? extendedProjections(fresh, existingByKey, plan, current) : undefined;
    const refreshed = await refreshProfiles(tx, [...new Set([...results.filter((r) => !r.stale).map((r) => r.profileId), ...left])], known, current, new Set(newProfiles));
    // A re-resolution announces nothing: it re-derives what subscribers were already told.
    if (run !== null) return results;
    const createdSet = new Set(newProfiles);
    const profileByKey = plan.profileOf;
    const events: HubEvent[] = [
      ...merges.map((m): HubEvent => ({ type: 'profile.merged', profileId: m.survivor, data: { survivorId: m.survivor, mergedId: m.merged, reason: m.reason, score: m.score } })),
      ...refreshed.map((p): HubEvent =>
        createdSet.has(p.id)
          ? { type: 'profile.created', profileId: p.id, data: { traits: p.after } }
          : { type: 'profile.updated', profileId: p.id, data: { changes: changedTraits(p.before, p.after) } },
      ).filter((e) => e.type === 'profile.created' || Object.keys(e.data['changes'] as object).length > 0),
      ...fresh
        .filter((r) => r.kind === 'interaction' && !existingByKey.has(r.key))
        .map((r): HubEvent => {
          const profileId = profileByKey.get(r.key) ?? null;
          return { type: 'interaction.created', profileId, data: { source: r.source, sourceId: r.sourceId, occurredAt: r.occurredAtIso, ...r.interaction } };
        }),
    ];
    await appendEvents(tx, events);
    return results;
  }

  /**
   * The projections of the profiles a batch adds new records to (none had a stored version), from
   * the current projections of the profile and of those merged into it (extendProjection), so that
   * their records need not be read back; profiles it cannot tell are left out, for refreshProfiles to
   * read. At 2.5 records per person, reading them back was a tenth of PostgreSQL's time per record.
   */
  function extendedProjections(fresh: Prepared[], stored: ReadonlyMap<string, unknown>, plan: Plan, current: ReadonlyMap<string, Projection>): Map<string, Projection> {
    const empty: Projection = { traits: {}, traitSources: {} };
    const created = new Set(plan.newProfiles);
    const parts = new Map<string, (Projection | undefined)[]>();
    const partsOf = (id: string) => {
      let list = parts.get(id);
      if (!list) parts.set(id, (list = [created.has(id) ? empty : current.get(id)]));
      return list;
    };
    for (const m of plan.merges) partsOf(m.survivor).push(current.get(m.merged));
    const rebuilt = new Set<string>();
    const added = new Map<string, TraitObservation[]>();
    for (const r of fresh) {
      const id = plan.profileOf.get(r.key);
      if (id === undefined) continue;
      if (stored.has(r.key)) rebuilt.add(id);
      partsOf(id);
      const list = added.get(id) ?? [];
      list.push({ source: r.source, sourceId: r.sourceId, traits: r.traits ?? {}, occurredAt: r.occurredAtIso, receivedAt: r.receivedAt });
      added.set(id, list);
    }
    const projections = new Map<string, Projection>();
    for (const [id, listed] of parts) {
      const known = listed.filter((p): p is Projection => p !== undefined);
      if (rebuilt.has(id) || known.length < listed.length) continue;
      const projection = extendProjection(known, added.get(id) ?? [], options.traitPriority);
      if (projection) projections.set(id, projection);
    }
    return projections;
  }

  /**
   * In a re-resolution, a cluster that would get a new profile keeps the profile its first record
   * was in, unless the run already placed records there: ids stay stable where the clusters do.
   */
  function keepProfileIds(plan: Plan, fresh: Prepared[], existingByKey: ReadonlyMap<string, { profile_id: string }>, placed: ReadonlySet<string>) {
    const used = new Set([...placed, ...plan.profileOf.values()].filter((id) => !plan.newProfiles.includes(id)));
    const renamed = new Map<string, string>();
    for (const r of fresh) {
      const id = plan.profileOf.get(r.key);
      const old = existingByKey.get(r.key)?.profile_id;
      if (!id || !old || !plan.newProfiles.includes(id) || renamed.has(id) || used.has(old)) continue;
      renamed.set(id, old);
      used.add(old);
    }
    if (renamed.size === 0) return;
    for (const [key, id] of plan.profileOf) plan.profileOf.set(key, renamed.get(id) ?? id);
    plan.newProfiles = plan.newProfiles.filter((id) => !renamed.has(id));
    for (const pair of plan.review) {
      pair.a = renamed.get(pair.a) ?? pair.a;
      pair.b = renamed.get(pair.b) ?? pair.b;
    }
    plan.review = plan.review.filter((p) => p.a !== p.b).map((p) => (p.a < p.b ? p : { ...p, a: p.b, b: p.a }));
  }

  /**
   * In a re-resolution: the profiles the batch's records left. One with no record left redirects to
   * where its first record went (its id keeps answering, with 308); the others are returned, to be
   * re-projected.
   */
  async function retireEmptied(tx: Sql, fresh: Prepared[], existingByKey: ReadonlyMap<string, { profile_id: string }>, profileOf: ReadonlyMap<string, string>, actor: string): Promise<string[]> {
    const target = new Map<string, string>();
    for (const r of fresh) {
      const old = existingByKey.get(r.key)?.profile_id;
      const now = profileOf.get(r.key);
      if (old && now && old !== now && !target.has(old)) target.set(old, now);
    }
    const olds = [...target.keys()].filter((id) => ![...profileOf.values()].includes(id));
    if (olds.length === 0) return [];
    const remaining = new Set(
      (await tx.query<{ profile_id: string }>(`SELECT DISTINCT profile_id FROM records WHERE profile_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid)`, [JSON.stringify(olds)])).rows.map(
        (r) => r.profile_id,
      ),
    );
    const emptied = olds.filter((id) => !remaining.has(id)).map((merged) => ({ survivor: target.get(merged) ?? '', merged, reason: 're-resolution', score: null }));
    if (emptied.length > 0) await applyMerges(tx, emptied, actor);
    return olds.filter((id) => remaining.has(id));
  }

  async function writeRecords(
    tx: Sql,
    fresh: Prepared[],
    stored: ReadonlyMap<string, unknown>,
    results: ResolvedRecord[],
    linkOf: ReadonlyMap<string, Edge>,
    keyCounts: ReadonlyMap<string, number>,
    run: number | null,
  ) {
    const profileByKey = new Map(results.map((r) => [recordKey(r.source, r.sourceId), r.profileId]));
    const rowOf = (r: Prepared) => ({
      source: r.source,
      source_id: r.sourceId,
      kind: r.kind,
      profile_id: profileByKey.get(r.key),
      occurred_at: r.occurredAtIso,
      received_at: r.receivedAt,
      identifiers: r.identifiers ?? {},
      traits: r.traits ?? {},
      interaction: r.interaction ?? null,
      match: r.features,
      link_reason: linkOf.get(r.key)?.reason ?? null,
      link_score: linkOf.get(r.key)?.score ?? null,
      resolve_run: run,
    });
    const insert = `INSERT INTO records (source, source_id, kind, profile_id, occurred_at, received_at, processed_at, identifiers, traits, interaction, match, link_reason, link_score, resolve_run)
       SELECT source, source_id, kind, profile_id, occurred_at, received_at, clock_timestamp(), identifiers, traits, interaction, match, link_reason, link_score, resolve_run
         FROM jsonb_to_recordset($1::jsonb) AS x(source text, source_id text, kind text, profile_id uuid, occurred_at timestamptz,
              received_at timestamptz, identifiers jsonb, traits jsonb, interaction jsonb, match jsonb, link_reason text, link_score double precision, resolve_run integer)`;
    // A record read as new is inserted plainly: under its lock nobody else stores it meanwhile, and an
    // upsert's speculative insertion costs one more index probe and one more WAL record a row.
    const added = fresh.filter((r) => !stored.has(r.key));
    if (added.length > 0) await tx.query(insert, [JSON.stringify(added.map(rowOf))]);
    const rewritten = fresh.filter((r) => stored.has(r.key));
    if (rewritten.length > 0) {
      await tx.query(
        `${insert}
         ON CONFLICT (source, source_id) DO UPDATE SET
           kind = excluded.kind, profile_id = excluded.profile_id, occurred_at = excluded.occurred_at,
           received_at = excluded.received_at, processed_at = excluded.processed_at,
           identifiers = excluded.identifiers, traits = excluded.traits, interaction = excluded.interaction, match = excluded.match,
           link_reason = CASE WHEN excluded.link_reason IS NULL THEN records.link_reason ELSE excluded.link_reason END,
           link_score = CASE WHEN excluded.link_reason IS NULL THEN records.link_score ELSE excluded.link_score END,
           resolve_run = excluded.resolve_run`,
        [JSON.stringify(rewritten.map(rowOf))],
      );
    }
    // Only a record stored before has identifiers and blocking keys to replace: under its lock, a
    // record read as new has none (most of an ingest: skipping them saved two index probes a record).
    const replaced = JSON.stringify(rewritten.map((r) => [r.source, r.sourceId]));
    if (replaced !== '[]') {
      await tx.query(`DELETE FROM record_identifiers ri USING jsonb_array_elements($1::jsonb) k WHERE ri.source = k->>0 AND ri.source_id = k->>1`, [replaced]);
      await tx.query(`DELETE FROM match_keys m USING jsonb_array_elements($1::jsonb) k WHERE m.source = k->>0 AND m.source_id = k->>1`, [replaced]);
    }
    await fileBlockingKeys(tx, fresh, keyCounts);
    const ids = fresh.flatMap((r) => r.ids.map((i) => ({ type: i.type, value: i.value, source: r.source, source_id: r.sourceId })));
    if (ids.length > 0) {
      await tx.query(
        `INSERT INTO record_identifiers (type, value, source, source_id)
         SELECT type, value, source, source_id FROM jsonb_to_recordset($1::jsonb) AS x(type text, value text, source text, source_id text)
         ORDER BY 1, 2, 3, 4`,
        [JSON.stringify(ids)],
      );
    }
  }

  /**
   * Files records under their blocking keys (their previous versions' keys are deleted). A key
   * already filed under more than candidatesPerKey records is never read again, only counted: it
   * takes no more, which keeps the table (and the cost of a record) bounded however large the store.
   */
  async function fileBlockingKeys(tx: Sql, records: Prepared[], keyCounts: ReadonlyMap<string, number>) {
    const filed = new Map(keyCounts);
    const open = (key: string) => {
      const n = filed.get(key) ?? 0;
      filed.set(key, n + 1);
      return n <= options.matching.candidatesPerKey;
    };
    const rows = records.flatMap((r) => r.blocks.filter(open).map((key) => ({ key, source: r.source, source_id: r.sourceId })));
    if (rows.length === 0) return;
    // No ON CONFLICT: the records' previous keys were deleted (writeRecords), under the records'
    // locks, and each record lists a key once, so nothing can conflict; the clause cost an index
    // probe per row (INSERT 82 → 58 µs per record in scripts/profile-resolve.ts at 5,000 people).
    await tx.query(
      `INSERT INTO match_keys (key, source, source_id)
       SELECT key, source, source_id FROM jsonb_to_recordset($1::jsonb) AS x(key text, source text, source_id text) ORDER BY 1, 2, 3`,
      [JSON.stringify(rows)],
    );
  }

  /** Moves the records of merged profiles to their survivors and logs each merge with its reason. */
  async function applyMerges(tx: Sql, merges: readonly Merge[], actor: string) {
    const m = JSON.stringify(merges);
    // `= ANY` of the merged ids, beside the join, tells the planner how few rows move: from the join
    // alone (a set-returning function counts as 100 rows) it scanned and hashed the whole table on
    // every merge (8 ms a batch at 50,000 records, and growing with them).
    const merged = merges.map((x) => x.merged);
    await tx.query(
      `UPDATE records SET profile_id = m.survivor FROM jsonb_to_recordset($1::jsonb) AS m(survivor uuid, merged uuid)
        WHERE records.profile_id = m.merged AND records.profile_id = ANY($2::uuid[])`,
      [m, merged],
    );
    // Two statements, each with its own index, rather than one OR that the planner can only scan for.
    await tx.query(
      `UPDATE profiles SET merged_into = m.survivor, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS m(survivor uuid, merged uuid) WHERE profiles.id = m.merged`,
      [m],
    );
    await tx.query(
      `UPDATE profiles SET merged_into = m.survivor
         FROM jsonb_to_recordset($1::jsonb) AS m(survivor uuid, merged uuid) WHERE profiles.merged_into = m.merged AND profiles.merged_into = ANY($2::uuid[])`,
      [m, merged],
    );
    await tx.query(
      `INSERT INTO profile_merges (survivor_id, merged_id, reason, actor, score)
       SELECT survivor, merged, reason, $2, score FROM jsonb_to_recordset($1::jsonb) AS m(survivor uuid, merged uuid, reason text, score double precision)`,
      [m, actor],
    );
    // Review pairs that named a merged profile are about a profile that no longer stands alone (one
    // statement per side: each has its index, an OR of the two would scan the table).
    for (const side of ['profile_a', 'profile_b']) {
      await tx.query(
        `UPDATE duplicate_pairs SET status = 'outdated', decided_at = now(), decided_by = $2
          WHERE ${side} = ANY($1::uuid[]) AND status = 'open'`,
        [merged, actor],
      );
    }
  }

  /** Proposes pairs for review; a pair already decided (dismissed) stays decided. */
  async function proposePairs(tx: Sql, pairs: readonly ReviewPair[]) {
    await tx.query(
      `INSERT INTO duplicate_pairs (profile_a, profile_b, score, reasons)
       SELECT a, b, score, reasons FROM jsonb_to_recordset($1::jsonb) AS x(a uuid, b uuid, score double precision, reasons jsonb) ORDER BY a, b
       ON CONFLICT (profile_a, profile_b) DO UPDATE SET score = excluded.score, reasons = excluded.reasons
        WHERE duplicate_pairs.status = 'open' AND duplicate_pairs.score < excluded.score`,
      [JSON.stringify(pairs)],
    );
  }

  async function reportShared(tx: Sql, shared: readonly { type: string; value: string; profiles: number }[]) {
    await tx.query(
      `INSERT INTO shared_identifiers (type, value, profiles)
       SELECT type, value, profiles FROM jsonb_to_recordset($1::jsonb) AS x(type text, value text, profiles int) ORDER BY 1, 2
       ON CONFLICT (type, value) DO UPDATE SET profiles = GREATEST(shared_identifiers.profiles, excluded.profiles), last_seen_at = now()`,
      [JSON.stringify(shared)],
    );
  }

  /**
   * Recomputes the trait projection of profiles whose records changed (from their records, unless
   * `known` has it); returns their traits before and after. `stored` has the projections as stored
   * (read under the profiles' locks), `inserted` the profiles this transaction inserted (stored
   * empty, their updated_at already now); the other profiles' are read here. A profile whose
   * projection equals its stored one keeps its traits and only has updated_at moved (the reports
   * find changed profiles by it): a batch leaves many projections as they were (a quarter of the
   * profiles updated in the benchmark's ingest; an interaction carries no traits).
   */
  async function refreshProfiles(
    tx: Sql,
    profileIds: string[],
    known: ReadonlyMap<string, Projection> = new Map(),
    stored: ReadonlyMap<string, Projection> = new Map(),
    inserted: ReadonlySet<string> = new Set(),
  ): Promise<{ id: string; before: Record<string, unknown>; after: Record<string, unknown> }[]> {
    if (profileIds.length === 0) return [];
    const before = new Map(stored);
    for (const id of inserted) before.set(id, { traits: {}, traitSources: {} });
    const unread = profileIds.filter((id) => !before.has(id));
    if (unread.length > 0) {
      const rows = (await tx.query<Omit<Locked, 'merged_into'>>(`SELECT id::text, traits, trait_sources FROM profiles WHERE id = ANY($1::uuid[])`, [unread])).rows;
      for (const r of rows) before.set(r.id, { traits: r.traits, traitSources: r.trait_sources });
    }
    const unknown = profileIds.filter((id) => !known.has(id));
    type Observed = { profile_id: string; source: string; source_id: string; traits: Record<string, unknown>; occurred_at: Date; received_at: Date };
    const rows =
      unknown.length === 0
        ? []
        : (
            await tx.query<Observed>(
              `SELECT profile_id, source, source_id, traits, occurred_at, received_at FROM records
                WHERE profile_id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) AND traits <> '{}'::jsonb`,
              [JSON.stringify(unknown)],
            )
          ).rows;
    const byProfile = new Map<string, typeof rows>(unknown.map((id) => [id, []]));
    for (const row of rows) byProfile.get(row.profile_id)?.push(row);
    const projections = new Map(known);
    for (const [id, observations] of byProfile) {
      projections.set(
        id,
        projectTraits(
          observations.map((o) => ({ source: o.source, sourceId: o.source_id, traits: o.traits, occurredAt: iso(o.occurred_at), receivedAt: iso(o.received_at) })),
          options.traitPriority,
        ),
      );
    }
    const kept: string[] = [];
    const updates: { id: string; traits: Record<string, unknown>; trait_sources: Record<string, TraitSource>; search_text: string }[] = [];
    const refreshed = profileIds.flatMap((id) => {
      const projection = projections.get(id);
      if (!projection) return [];
      const was = before.get(id);
      if (was && isDeepStrictEqual(was, projection)) {
        if (!inserted.has(id)) kept.push(id);
      } else updates.push({ id, traits: projection.traits, trait_sources: projection.traitSources, search_text: searchText(projection.traits) });
      return [{ id, before: was?.traits ?? {}, after: projection.traits }];
    });
    if (kept.length > 0) await tx.query(`UPDATE profiles SET updated_at = now() WHERE id = ANY($1::uuid[])`, [kept.sort()]);
    if (updates.length > 0) {
      await tx.query(
        `UPDATE profiles SET traits = u.traits, trait_sources = u.trait_sources, search_text = u.search_text, updated_at = now()
           FROM jsonb_to_recordset($1::jsonb) AS u(id uuid, traits jsonb, trait_sources jsonb, search_text text)
          WHERE profiles.id = u.id`,
        [JSON.stringify(updates.sort((a, b) => (a.id < b.id ? -1 : 1)))],
      );
    }
    return refreshed;
  }

  async function getRecord(source: string, sourceId: string): Promise<StoredRecord | null> {
    const row = (
      await db.query<{ kind: 'contact' | 'interaction'; profile_id: string; received_at: Date; processed_at: Date }>(
        'SELECT kind, profile_id, received_at, processed_at FROM records WHERE source = $1 AND source_id = $2',
        [source, sourceId],
        { name: 'get-record' },
      )
    ).rows[0];
    if (!row) return null;
    return { source, sourceId, kind: row.kind, profileId: row.profile_id, receivedAt: iso(row.received_at), processedAt: iso(row.processed_at) };
  }

  /** The live profile an id now stands for: itself, or the survivor it was merged into. */
  async function resolveProfileId(id: string): Promise<{ id: string; redirected: boolean } | null> {
    let current = id;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
      const row = (await db.query<{ merged_into: string | null }>('SELECT merged_into FROM profiles WHERE id = $1', [current])).rows[0];
      if (!row) return null;
      if (row.merged_into === null) return { id: current, redirected: current !== id };
      current = row.merged_into;
    }
    throw new HubError('CONFLICT', `profile ${id} redirects more than ${MAX_REDIRECTS} times`);
  }

  /** One profile as the API's JSON text (PROFILE_QUERY), or where a merged-away id now points. */
  async function getProfileJson(id: string): Promise<{ json: string } | { mergedInto: string } | null> {
    type Row = { merged_into: null; profile: string } | { merged_into: string; profile: null };
    const row = (await db.query<Row>(PROFILE_QUERY.text, [id], { name: PROFILE_QUERY.name, jsonAsText: true })).rows[0];
    if (!row) return null;
    return row.merged_into === null ? { json: row.profile } : { mergedInto: row.merged_into };
  }

  /** One profile, or where a merged-away id now points. */
  async function getProfile(id: string): Promise<ProfileView | { mergedInto: string } | null> {
    const found = await getProfileJson(id);
    return found && 'json' in found ? (JSON.parse(found.json) as ProfileView) : found;
  }

  /** A page of profiles as the API's JSON text (`{"data": [...], "nextCursor": ...}`), passed on without parsing it. */
  async function findProfilesJson(lookup: ProfileLookup): Promise<string> {
    const query = findProfilesQuery(lookup);
    const rows = (await db.query<{ profile: string; id: string; position: string }>(query.text, query.params, { name: query.name, jsonAsText: true })).rows;
    const page = rows.slice(0, lookup.limit);
    const last = page[page.length - 1];
    const nextCursor = rows.length > lookup.limit && last ? encodeCursor([last.position, last.id]) : null;
    return `{"data":[${page.map((r) => r.profile).join(',')}],"nextCursor":${JSON.stringify(nextCursor)}}`;
  }

  async function timeline(profileId: string, filter: { channel?: string; limit: number; cursor?: string }): Promise<Page<TimelineItem>> {
    const params: unknown[] = [profileId];
    const where = [`profile_id = $1`, `kind = 'interaction'`];
    if (filter.channel) {
      params.push(filter.channel);
      where.push(`interaction->>'channel' = $${params.length}`);
    }
    if (filter.cursor) {
      const [occurredAt, source, sourceId] = decodeCursor(filter.cursor, ['time', 'text', 'text']);
      params.push(occurredAt, source, sourceId);
      const n = params.length;
      where.push(`(occurred_at, source, source_id) < ($${n - 2}::timestamptz, $${n - 1}, $${n})`);
    }
    params.push(filter.limit + 1);
    const rows = (
      await db.query<{ source: string; source_id: string; occurred_at: Date; received_at: Date; interaction: Record<string, unknown> }>(
        `SELECT source, source_id, occurred_at, received_at, interaction FROM records WHERE ${where.join(' AND ')}
          ORDER BY occurred_at DESC, source DESC, source_id DESC LIMIT $${params.length}`,
        params,
        preparedName('timeline', where),
      )
    ).rows;
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    return {
      data: page.map((r) => ({
        ...r.interaction,
        channel: String(r.interaction['channel'] ?? 'other'),
        source: r.source,
        sourceId: r.source_id,
        occurredAt: iso(r.occurred_at),
        receivedAt: iso(r.received_at),
      })),
      nextCursor: rows.length > filter.limit && last ? encodeCursor([iso(last.occurred_at), last.source, last.source_id]) : null,
    };
  }

  async function counts(): Promise<{ profiles: number; records: number }> {
    const row = (
      await db.query<{ profiles: number; records: number }>(
        'SELECT (SELECT count(*)::int FROM profiles WHERE merged_into IS NULL) AS profiles, (SELECT count(*)::int FROM records) AS records',
      )
    ).rows[0];
    return row ?? { profiles: 0, records: 0 };
  }

  async function ping(): Promise<void> {
    await db.query('SELECT 1');
  }

  return {
    resolveBatch,
    getRecord,
    resolveProfileId,
    getProfile,
    getProfileJson,
    findProfilesJson,
    timeline,
    counts,
    ping,
    /** For curation (manual merge and split), which changes profiles in its own transactions. */
    internals: { applyMerges, refreshProfiles },
  };
}

export type ProfileStore = ReturnType<typeof createProfileStore>;
