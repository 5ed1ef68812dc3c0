import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { Db, Sql } from '../store/db.js';
import type { ReceivedRecord } from '../record.schema.js';
import type { Identifier, IdentifierType } from '../identity/normalize.js';
import { appendEvents } from '../events/outbox.js';
import { forgetProfiles } from '../reports/rollups.js';
import { HubError } from '../errors.js';
import { identifierLock, recordLock, waitForLocks } from '../store/identity-locks.js';

const SALT_NAME = 'erasure-salt';

/** What an erasure removed: enough to clean the queues, never written to a log or a response. */
export type ErasedPerson = {
  profileIds: string[];
  records: { source: string; sourceId: string }[];
  identifiers: Identifier[];
  /** Identifier values as the sources sent them (before normalization). */
  rawValues: string[];
};

export type EraseOutcome = { status: 'erased'; erasedAt: string; person: ErasedPerson } | { status: 'missing' } | { status: 'moved'; survivorId: string };

export type HeldRecord = { id: string; source: string; sourceId: string; receivedAt: string; heldAt: string; matched: IdentifierType[]; record: ReceivedRecord };

type RecordRow = { source: string; source_id: string; identifiers: { emails?: string[]; phones?: string[]; ids?: Record<string, string> } };

function iso(value: unknown): string {
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

function rawValuesOf(rows: RecordRow[]): string[] {
  const values = new Set<string>();
  for (const { identifiers } of rows) {
    for (const v of [...(identifiers.emails ?? []), ...(identifiers.phones ?? []), ...Object.values(identifiers.ids ?? {})]) if (v.trim()) values.add(v.trim());
  }
  return [...values];
}

export function createErasureStore(db: Db) {
  let salt: Promise<string> | undefined;

  /** The per-installation salt, made on first use; two processes making it at once agree on one. */
  function installationSalt(): Promise<string> {
    salt ??= (async () => {
      await db.query('INSERT INTO hub_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [SALT_NAME, randomBytes(32).toString('hex')]);
      const row = (await db.query<{ value: string }>('SELECT value FROM hub_secrets WHERE name = $1', [SALT_NAME])).rows[0];
      if (!row) throw new HubError('STORE_UNAVAILABLE', 'the erasure salt could not be read');
      return row.value;
    })().catch((err: unknown) => {
      salt = undefined;
      throw err;
    });
    return salt;
  }

  /** HMAC-SHA256 of a normalized identifier under the installation salt. */
  async function hashIdentifiers(identifiers: readonly Identifier[]): Promise<string[]> {
    const key = await installationSalt();
    return identifiers.map((i) => createHmac('sha256', key).update(`${i.type}\u0000${i.value}`).digest('hex'));
  }

  async function readPerson(tx: Sql, profileId: string) {
    const profileIds = (await tx.query<{ id: string }>('SELECT id FROM profiles WHERE id = $1 OR merged_into = $1 ORDER BY id', [profileId])).rows.map((r) => r.id);
    const records = (await tx.query<RecordRow>('SELECT source, source_id, identifiers FROM records WHERE profile_id = $1 ORDER BY source, source_id', [profileId])).rows;
    const identifiers = (
      await tx.query<Identifier>(
        `SELECT DISTINCT ri.type, ri.value FROM records r JOIN record_identifiers ri ON ri.source = r.source AND ri.source_id = r.source_id
          WHERE r.profile_id = $1 ORDER BY 1, 2`,
        [profileId],
      )
    ).rows;
    return { profileIds, records, identifiers };
  }

  /** The keys a resolve locks for the person's records and identifiers: holding them, no resolve links to the person meanwhile. */
  function locksOf(person: { records: { source: string; source_id: string }[]; identifiers: Identifier[] }): string[] {
    return [...person.records.map((r) => recordLock(r.source, r.source_id)), ...person.identifiers.map((i) => identifierLock(i.type, i.value))];
  }

  /**
   * Erases a live profile in one transaction: its records and their identifiers, the profiles merged
   * into it (their redirects), the merges naming them, their events not yet relayed, the identity
   * locks of their values; keeps salted hashes of the identifiers and appends `profile.deleted`.
   */
  async function erase(profileId: string): Promise<EraseOutcome> {
    await installationSalt();
    return db.transaction(async (tx) => {
      const before = await readPerson(tx, profileId);
      // The same locks as a resolve, then the profile row: a resolve that would add to this person
      // waits (or sets the record aside until it can), and finds nothing to link to once this commits.
      await waitForLocks(tx, locksOf(before));
      const profile = (await tx.query<{ merged_into: string | null }>('SELECT merged_into FROM profiles WHERE id = $1 FOR UPDATE', [profileId])).rows[0];
      if (!profile) return { status: 'missing' };
      if (profile.merged_into !== null) return { status: 'moved', survivorId: profile.merged_into };

      const person = await readPerson(tx, profileId);
      const hashes = await hashIdentifiers(person.identifiers);
      await tx.query(
        `INSERT INTO erased_identifiers (hash, type)
         SELECT h, t FROM unnest($1::text[], $2::text[]) AS x(h, t) ORDER BY h ON CONFLICT (hash) DO NOTHING`,
        [hashes, person.identifiers.map((i) => i.type)],
      );
      await tx.query('DELETE FROM record_identifiers ri USING records r WHERE r.profile_id = $1 AND ri.source = r.source AND ri.source_id = r.source_id', [profileId]);
      await tx.query('DELETE FROM match_keys m USING records r WHERE r.profile_id = $1 AND m.source = r.source AND m.source_id = r.source_id', [profileId]);
      await tx.query('DELETE FROM records WHERE profile_id = $1', [profileId]);
      await tx.query('DELETE FROM profile_merges WHERE survivor_id = ANY($1::uuid[]) OR merged_id = ANY($1::uuid[])', [person.profileIds]);
      // Review pairs and split history name the profile; shared identifiers name its values in clear.
      await tx.query('DELETE FROM duplicate_pairs WHERE profile_a = ANY($1::uuid[]) OR profile_b = ANY($1::uuid[])', [person.profileIds]);
      await tx.query('DELETE FROM profile_splits WHERE profile_id = ANY($1::uuid[]) OR new_profile_id = ANY($1::uuid[])', [person.profileIds]);
      await tx.query('DELETE FROM shared_identifiers s USING jsonb_array_elements($1::jsonb) k WHERE s.type = k->>0 AND s.value = k->>1', [
        JSON.stringify(person.identifiers.map((i) => [i.type, i.value])),
      ]);
      // Events not yet relayed carry traits and interactions: they go with the person.
      await tx.query('DELETE FROM events WHERE profile_id = ANY($1::uuid[])', [person.profileIds]);
      // What the reports derived from the person (their days, values, sources) goes too.
      await forgetProfiles(tx, person.profileIds);
      await tx.query('DELETE FROM profiles WHERE id = ANY($1::uuid[])', [person.profileIds]);
      // A lock row is an unsalted hash of a value: not kept either.
      await tx.query('DELETE FROM identity_locks WHERE key = ANY($1::bigint[])', [locksOf(person)]);
      const erasedAt = new Date().toISOString();
      await appendEvents(tx, [{ type: 'profile.deleted', profileId, data: { profileId, erasedAt } }]);
      return {
        status: 'erased',
        erasedAt,
        person: {
          profileIds: person.profileIds,
          records: person.records.map((r) => ({ source: r.source, sourceId: r.source_id })),
          identifiers: person.identifiers,
          rawValues: rawValuesOf(person.records),
        },
      };
    });
  }

  /** What a profile's erasure would remove, read without locks (to clean the queues beforehand). */
  async function preview(profileId: string): Promise<ErasedPerson> {
    const person = await readPerson(db, profileId);
    return {
      profileIds: person.profileIds,
      records: person.records.map((r) => ({ source: r.source, sourceId: r.source_id })),
      identifiers: person.identifiers,
      rawValues: rawValuesOf(person.records),
    };
  }

  /** Which of these identifiers were erased. */
  async function erasedAmong(identifiers: readonly Identifier[]): Promise<Set<string>> {
    if (identifiers.length === 0) return new Set();
    // Most stores have erased no one: one cheap query then spares a keyed hash per identifier of every record.
    if (!(await db.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM erased_identifiers) AS any', [], { name: 'any-erased' })).rows[0]?.any) return new Set();
    const hashes = await hashIdentifiers(identifiers);
    const found = new Set((await db.query<{ hash: string }>('SELECT hash FROM erased_identifiers WHERE hash = ANY($1::text[])', [hashes])).rows.map((r) => r.hash));
    const erased = new Set<string>();
    identifiers.forEach((i, n) => {
      if (found.has(hashes[n] ?? '')) erased.add(`${i.type}\u0000${i.value}`);
    });
    return erased;
  }

  async function forget(identifiers: readonly Identifier[]): Promise<void> {
    if (identifiers.length === 0) return;
    await db.query('DELETE FROM erased_identifiers WHERE hash = ANY($1::text[])', [await hashIdentifiers(identifiers)]);
  }

  async function hold(records: { record: ReceivedRecord; matched: IdentifierType[] }[]): Promise<void> {
    if (records.length === 0) return;
    await db.query(
      `INSERT INTO held_records (id, source, source_id, received_at, matched, record)
       SELECT id, source, source_id, received_at, ARRAY(SELECT jsonb_array_elements_text(matched)), record
         FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, source text, source_id text, received_at timestamptz, matched jsonb, record jsonb)
       ON CONFLICT (source, source_id, received_at) DO NOTHING`,
      [JSON.stringify(records.map((r) => ({ id: randomUUID(), source: r.record.source, source_id: r.record.sourceId, received_at: r.record.receivedAt, matched: r.matched, record: r.record })))],
    );
  }

  async function countDropped(n: number): Promise<void> {
    await db.query(
      `INSERT INTO erasure_counters (name, value) VALUES ('dropped', $1) ON CONFLICT (name) DO UPDATE SET value = erasure_counters.value + excluded.value`,
      [n],
    );
  }

  type HeldRow = { id: string; source: string; source_id: string; received_at: Date; held_at: Date; matched: IdentifierType[]; record: ReceivedRecord };
  const toHeld = (r: HeldRow): HeldRecord => ({ id: r.id, source: r.source, sourceId: r.source_id, receivedAt: iso(r.received_at), heldAt: iso(r.held_at), matched: r.matched, record: r.record });

  async function listHeld(filter: { limit: number; cursor?: string }): Promise<{ data: HeldRecord[]; nextCursor: string | null; dropped: number }> {
    const params: unknown[] = [filter.limit + 1];
    let where = '';
    if (filter.cursor !== undefined) {
      const [heldAt, id] = decodeHeldCursor(filter.cursor);
      params.push(heldAt, id);
      where = 'WHERE (held_at, id) > ($2::timestamptz, $3::uuid)';
    }
    const rows = (await db.query<HeldRow>(`SELECT id, source, source_id, received_at, held_at, matched, record FROM held_records ${where} ORDER BY held_at, id LIMIT $1`, params)).rows;
    const dropped = (await db.query<{ value: string }>(`SELECT value::text AS value FROM erasure_counters WHERE name = 'dropped'`)).rows[0];
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    return {
      data: page.map(toHeld),
      nextCursor: rows.length > filter.limit && last ? Buffer.from(JSON.stringify([iso(last.held_at), last.id])).toString('base64url') : null,
      dropped: Number(dropped?.value ?? 0),
    };
  }

  async function getHeld(id: string): Promise<HeldRecord | null> {
    const row = (await db.query<HeldRow>('SELECT id, source, source_id, received_at, held_at, matched, record FROM held_records WHERE id = $1', [id])).rows[0];
    return row ? toHeld(row) : null;
  }

  async function deleteHeld(id: string): Promise<boolean> {
    return (await db.query<{ id: string }>('DELETE FROM held_records WHERE id = $1 RETURNING id', [id])).rows.length > 0;
  }

  /** A person's records in full and merge history, for the export. */
  async function exportData(profileId: string) {
    const profileIds = (await db.query<{ id: string }>('SELECT id FROM profiles WHERE id = $1 OR merged_into = $1 ORDER BY id', [profileId])).rows.map((r) => r.id);
    const records = (
      await db.query<{
        source: string;
        source_id: string;
        kind: string;
        occurred_at: Date;
        received_at: Date;
        processed_at: Date;
        identifiers: Record<string, unknown>;
        traits: Record<string, unknown>;
        interaction: Record<string, unknown> | null;
      }>(
        `SELECT source, source_id, kind, occurred_at, received_at, processed_at, identifiers, traits, interaction
           FROM records WHERE profile_id = $1 ORDER BY occurred_at, source, source_id`,
        [profileId],
      )
    ).rows;
    const merges = (
      await db.query<{ survivor_id: string; merged_id: string; reason: string; actor: string; created_at: Date }>(
        `SELECT survivor_id, merged_id, reason, actor, created_at FROM profile_merges
          WHERE survivor_id = ANY($1::uuid[]) OR merged_id = ANY($1::uuid[]) ORDER BY id`,
        [profileIds],
      )
    ).rows;
    return {
      profileIds,
      records: records.map((r) => ({
        source: r.source,
        sourceId: r.source_id,
        kind: r.kind,
        occurredAt: iso(r.occurred_at),
        receivedAt: iso(r.received_at),
        processedAt: iso(r.processed_at),
        identifiers: r.identifiers,
        traits: r.traits,
        interaction: r.interaction,
      })),
      merges: merges.map((m) => ({ survivorId: m.survivor_id, mergedId: m.merged_id, reason: m.reason, actor: m.actor, createdAt: iso(m.created_at) })),
    };
  }

  return { erase, preview, exportData, erasedAmong, forget, hold, countDropped, listHeld, getHeld, deleteHeld, hashIdentifiers };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function decodeHeldCursor(cursor: string): [string, string] {
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parts) && parts.length === 2 && typeof parts[0] === 'string' && !Number.isNaN(Date.parse(parts[0])) && typeof parts[1] === 'string' && UUID.test(parts[1])) {
      return [parts[0], parts[1]];
    }
  } catch {
    // falls through to the error below
  }
  throw new HubError('VALIDATION', 'cursor is not one this API returned', { errors: [{ path: '/querystring/cursor', message: 'invalid cursor' }] });
}

export type ErasureStore = ReturnType<typeof createErasureStore>;
