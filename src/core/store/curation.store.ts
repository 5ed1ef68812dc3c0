import { v7 as timeOrderedUuid } from 'uuid';
import type { Db, Sql } from './db.js';
import type { ProfileStore, Page } from './profile.store.js';
import { HubError } from '../errors.js';
import { appendEvents, changedTraits, type HubEvent } from '../events/outbox.js';

/** Human decisions on identity: merge two profiles, split records off, review proposed duplicates. */

export type DuplicateStatus = 'open' | 'merged' | 'dismissed' | 'outdated';
export type DuplicatePair = {
  id: string;
  profileIds: [string, string];
  score: number;
  reasons: string[];
  status: DuplicateStatus;
  createdAt: string;
  decidedBy: string | null;
  decidedAt: string | null;
};
export type SharedIdentifier = { type: string; value: string; profiles: number; firstSeenAt: string; lastSeenAt: string };
export type RecordRef = { source: string; sourceId: string };

type PairRow = {
  id: string;
  profile_a: string;
  profile_b: string;
  score: number;
  reasons: string[];
  status: DuplicateStatus;
  created_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
};

function iso(value: Date | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

function pairView(row: PairRow): DuplicatePair {
  return {
    id: String(row.id),
    profileIds: [row.profile_a, row.profile_b],
    score: Number(row.score),
    reasons: row.reasons,
    status: row.status,
    createdAt: iso(row.created_at) ?? '',
    decidedBy: row.decided_by,
    decidedAt: iso(row.decided_at),
  };
}

export function createCurationStore(db: Db, profiles: ProfileStore) {
  const { applyMerges, refreshProfiles } = profiles.internals;

  /** Locks live profiles in id order; every id must be live (not merged away). */
  async function lockLive(tx: Sql, ids: string[]): Promise<Map<string, number>> {
    const rows = (
      await tx.query<{ id: string; merged_into: string | null; created_at: Date }>(
        `SELECT id, merged_into, created_at FROM profiles WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb)::uuid) ORDER BY id FOR UPDATE`,
        [JSON.stringify([...new Set(ids)].sort())],
      )
    ).rows;
    for (const id of ids) {
      const row = rows.find((r) => r.id === id);
      if (!row) throw new HubError('NOT_FOUND', `no profile ${id}`);
      if (row.merged_into !== null) throw new HubError('CONFLICT', `profile ${id} was merged into ${row.merged_into}; act on that one`);
    }
    return new Map(rows.map((r) => [r.id, new Date(r.created_at).getTime()]));
  }

  async function mergeLocked(tx: Sql, survivor: string, merged: string, reason: string, score: number | null, actor: string) {
    await applyMerges(tx, [{ survivor, merged, reason, score }], actor);
    // A person a human joined is one person: constraints between the two sides no longer apply.
    await tx.query(
      `DELETE FROM merge_constraints c USING records ra, records rb
        WHERE ra.source = c.a_source AND ra.source_id = c.a_source_id AND rb.source = c.b_source AND rb.source_id = c.b_source_id
          AND ra.profile_id = $1 AND rb.profile_id = $1`,
      [survivor],
    );
    const [refreshed] = await refreshProfiles(tx, [survivor]);
    const events: HubEvent[] = [{ type: 'profile.merged', profileId: survivor, data: { survivorId: survivor, mergedId: merged, reason, score, actor } }];
    const changes = refreshed ? changedTraits(refreshed.before, refreshed.after) : {};
    if (Object.keys(changes).length > 0) events.push({ type: 'profile.updated', profileId: survivor, data: { changes } });
    await appendEvents(tx, events);
  }

  /** Merges `other` into `id`: `id` remains, `other` redirects to it. */
  async function mergeProfiles(id: string, other: string, actor: string): Promise<{ profileId: string; mergedId: string }> {
    if (id === other) throw new HubError('VALIDATION', 'a profile cannot be merged into itself', { errors: [{ path: '/body/profileId', message: 'same as the profile in the path' }] });
    return db.transaction(async (tx) => {
      await lockLive(tx, [id, other]);
      await mergeLocked(tx, id, other, 'manual merge', null, actor);
      return { profileId: id, mergedId: other };
    });
  }

  /** Moves records out of a profile into a new one and remembers that the two sides stay apart. */
  async function splitProfile(id: string, moving: readonly RecordRef[], actor: string): Promise<{ profileId: string; newProfileId: string; moved: number }> {
    return db.transaction(async (tx) => {
      await lockLive(tx, [id]);
      const held = (
        await tx.query<{ source: string; source_id: string }>(`SELECT source, source_id FROM records WHERE profile_id = $1 ORDER BY occurred_at, source, source_id`, [id])
      ).rows;
      const key = (source: string, sourceId: string) => `${source}\u0000${sourceId}`;
      const heldKeys = new Set(held.map((r) => key(r.source, r.source_id)));
      const movingKeys = new Set(moving.map((r) => key(r.source, r.sourceId)));
      const missing = moving.map((r, i) => ({ r, i })).filter(({ r }) => !heldKeys.has(key(r.source, r.sourceId)));
      if (missing.length > 0) {
        throw new HubError('VALIDATION', `${missing.length} of the records are not in profile ${id}`, {
          errors: missing.map(({ r, i }) => ({ path: `/body/records/${i}`, message: `${r.source}/${r.sourceId} is not a record of this profile` })),
        });
      }
      const staying = held.filter((r) => !movingKeys.has(key(r.source, r.source_id)));
      const firstStaying = staying[0];
      const firstMoving = moving[0];
      if (!firstStaying || !firstMoving) throw new HubError('CONFLICT', 'a split must leave at least one record in the profile and move at least one');

      const newProfileId = timeOrderedUuid();
      await tx.query('INSERT INTO profiles (id) VALUES ($1)', [newProfileId]);
      const refs = JSON.stringify(moving.map((r) => [r.source, r.sourceId]));
      await tx.query(`UPDATE records SET profile_id = $2 FROM jsonb_array_elements($1::jsonb) k WHERE records.source = k->>0 AND records.source_id = k->>1`, [refs, newProfileId]);
      await tx.query(
        `INSERT INTO merge_constraints (a_source, a_source_id, b_source, b_source_id, reason, actor) VALUES ($1, $2, $3, $4, 'split', $5)`,
        [firstStaying.source, firstStaying.source_id, firstMoving.source, firstMoving.sourceId, actor],
      );
      await tx.query(`INSERT INTO profile_splits (profile_id, new_profile_id, records, actor) VALUES ($1, $2, $3::jsonb, $4)`, [
        id,
        newProfileId,
        JSON.stringify(moving.map((r) => ({ source: r.source, sourceId: r.sourceId }))),
        actor,
      ]);
      await tx.query(`UPDATE duplicate_pairs SET status = 'outdated', decided_at = now(), decided_by = $2 WHERE status = 'open' AND (profile_a = $1 OR profile_b = $1)`, [id, actor]);
      const refreshed = await refreshProfiles(tx, [id, newProfileId]);
      const before = refreshed.find((r) => r.id === id);
      const events: HubEvent[] = [
        { type: 'profile.split', profileId: id, data: { profileId: id, newProfileId, records: moving.map((r) => ({ source: r.source, sourceId: r.sourceId })), actor } },
        { type: 'profile.created', profileId: newProfileId, data: { traits: refreshed.find((r) => r.id === newProfileId)?.after ?? {} } },
      ];
      const changes = before ? changedTraits(before.before, before.after) : {};
      if (Object.keys(changes).length > 0) events.push({ type: 'profile.updated', profileId: id, data: { changes } });
      await appendEvents(tx, events);
      return { profileId: id, newProfileId, moved: moving.length };
    });
  }

  async function listDuplicates(filter: { status: DuplicateStatus; limit: number; cursor?: string }): Promise<Page<DuplicatePair>> {
    const after = filter.cursor === undefined ? null : Number.parseInt(Buffer.from(filter.cursor, 'base64url').toString('utf8'), 10);
    if (after !== null && !Number.isSafeInteger(after)) {
      throw new HubError('VALIDATION', 'cursor is not one this API returned', { errors: [{ path: '/querystring/cursor', message: 'invalid cursor' }] });
    }
    const rows = (
      await db.query<PairRow>(
        `SELECT id, profile_a, profile_b, score, reasons, status, created_at, decided_by, decided_at FROM duplicate_pairs
          WHERE status = $1 AND id > $2 ORDER BY id LIMIT $3`,
        [filter.status, after ?? 0, filter.limit + 1],
      )
    ).rows;
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    return { data: page.map(pairView), nextCursor: rows.length > filter.limit && last ? Buffer.from(String(last.id)).toString('base64url') : null };
  }

  async function lockOpenPair(tx: Sql, pairId: string): Promise<PairRow> {
    if (!/^\d{1,18}$/.test(pairId)) throw new HubError('NOT_FOUND', `no duplicate pair ${pairId}`);
    const row = (
      await tx.query<PairRow>(`SELECT id, profile_a, profile_b, score, reasons, status, created_at, decided_by, decided_at FROM duplicate_pairs WHERE id = $1 FOR UPDATE`, [pairId])
    ).rows[0];
    if (!row) throw new HubError('NOT_FOUND', `no duplicate pair ${pairId}`);
    if (row.status !== 'open') throw new HubError('CONFLICT', `pair ${pairId} is already ${row.status}`);
    return row;
  }

  /** Merges the pair's profiles (the older one remains). */
  async function mergePair(pairId: string, actor: string): Promise<DuplicatePair & { profileId: string }> {
    return db.transaction(async (tx) => {
      const pair = await lockOpenPair(tx, pairId);
      const created = await lockLive(tx, [pair.profile_a, pair.profile_b]);
      const [survivor, merged] = [pair.profile_a, pair.profile_b].sort((a, b) => (created.get(a) ?? 0) - (created.get(b) ?? 0) || (a < b ? -1 : 1)) as [string, string];
      const decided = (
        await tx.query<PairRow>(
          `UPDATE duplicate_pairs SET status = 'merged', decided_by = $2, decided_at = now() WHERE id = $1
           RETURNING id, profile_a, profile_b, score, reasons, status, created_at, decided_by, decided_at`,
          [pairId, actor],
        )
      ).rows[0] as PairRow;
      await mergeLocked(tx, survivor, merged, `review pair ${pairId} merged`, Number(pair.score), actor);
      return { ...pairView(decided), profileId: survivor };
    });
  }

  /** Marks the pair as two people: never proposed again, never merged automatically. */
  async function dismissPair(pairId: string, actor: string): Promise<DuplicatePair> {
    return db.transaction(async (tx) => {
      const pair = await lockOpenPair(tx, pairId);
      const firsts = (
        await tx.query<{ profile_id: string; source: string; source_id: string }>(
          `SELECT DISTINCT ON (profile_id) profile_id, source, source_id FROM records WHERE profile_id = $1 OR profile_id = $2 ORDER BY profile_id, occurred_at, source, source_id`,
          [pair.profile_a, pair.profile_b],
        )
      ).rows;
      const [a, b] = [firsts.find((r) => r.profile_id === pair.profile_a), firsts.find((r) => r.profile_id === pair.profile_b)];
      if (a && b) {
        await tx.query(`INSERT INTO merge_constraints (a_source, a_source_id, b_source, b_source_id, reason, actor) VALUES ($1, $2, $3, $4, 'dismissed', $5)`, [
          a.source,
          a.source_id,
          b.source,
          b.source_id,
          actor,
        ]);
      }
      const row = (
        await tx.query<PairRow>(
          `UPDATE duplicate_pairs SET status = 'dismissed', decided_by = $2, decided_at = now() WHERE id = $1
           RETURNING id, profile_a, profile_b, score, reasons, status, created_at, decided_by, decided_at`,
          [pairId, actor],
        )
      ).rows[0] as PairRow;
      return pairView(row);
    });
  }

  async function sharedIdentifiers(limit: number): Promise<SharedIdentifier[]> {
    const rows = (
      await db.query<{ type: string; value: string; profiles: number; first_seen_at: Date; last_seen_at: Date }>(
        'SELECT type, value, profiles, first_seen_at, last_seen_at FROM shared_identifiers ORDER BY profiles DESC, type, value LIMIT $1',
        [limit],
      )
    ).rows;
    return rows.map((r) => ({ type: r.type, value: r.value, profiles: r.profiles, firstSeenAt: iso(r.first_seen_at) ?? '', lastSeenAt: iso(r.last_seen_at) ?? '' }));
  }

  /** Merges and splits that shaped a profile, newest first. */
  async function history(profileId: string): Promise<{ type: 'merge' | 'split'; at: string; actor: string; detail: Record<string, unknown> }[]> {
    const rows = (
      await db.query<{ type: 'merge' | 'split'; at: Date; actor: string; detail: Record<string, unknown> }>(
        `SELECT 'merge' AS type, created_at AS at, actor, json_build_object('survivorId', survivor_id, 'mergedId', merged_id, 'reason', reason, 'score', score) AS detail
           FROM profile_merges WHERE survivor_id = $1 OR merged_id = $1
         UNION ALL
         SELECT 'split', created_at, actor, json_build_object('profileId', profile_id, 'newProfileId', new_profile_id, 'records', records)
           FROM profile_splits WHERE profile_id = $1 OR new_profile_id = $1
         ORDER BY at DESC LIMIT 200`,
        [profileId],
      )
    ).rows;
    return rows.map((r) => ({ type: r.type, at: iso(r.at) ?? '', actor: r.actor, detail: r.detail }));
  }

  async function pairCounts(): Promise<{ status: DuplicateStatus; count: number }[]> {
    const rows = (await db.query<{ status: DuplicateStatus; count: number }>('SELECT status, count(*)::int AS count FROM duplicate_pairs GROUP BY status')).rows;
    return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
  }

  return { mergeProfiles, splitProfile, listDuplicates, mergePair, dismissPair, sharedIdentifiers, history, pairCounts };
}

export type CurationStore = ReturnType<typeof createCurationStore>;
