import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from '../../bench/data.js';
import { parseConfig } from '../../src/core/config/load-config.js';
import { resolveOptions } from '../../src/core/identity/resolve-options.js';
import { projectTraits } from '../../src/core/identity/survivorship.js';
import type { ReceivedRecord } from '../../src/core/record.schema.js';
import { migrate } from '../../src/core/store/migrate.js';
import { createProfileStore, type ProfileStore } from '../../src/core/store/profile.store.js';
import { STORES } from '../support/env.js';
import { createTestDb, type TestDb } from '../support/hub.js';

const PRIORITY = { company: ['erp', '1c'], city: ['web'] };
const SOURCES = ['erp', '1c', 'web', 'crm'];
const VALUES = ['', 'Ромашка', 'Лилия', 'Тверь', 'Kazan'];

/** Records of 60 people over four sources, batch by batch: new records, re-sent versions, and records that join two people. */
function batches(): ReceivedRecord[][] {
  const random = prng(7);
  const next = (n: number) => Math.floor(random() * n);
  const sent: ReceivedRecord[] = [];
  const result: ReceivedRecord[][] = [];
  for (let b = 0; b < 12; b += 1) {
    const batch: ReceivedRecord[] = [];
    for (let i = 0; i < 25; i += 1) {
      const person = next(60);
      const previous = sent[next(Math.max(sent.length, 1))];
      const resend = previous !== undefined && next(10) === 0;
      const emails = [`person${person}@example.com`, ...(next(25) === 0 ? [`person${next(60)}@example.com`] : [])];
      const traits = Object.fromEntries(['company', 'city', 'firstName'].filter(() => next(2) > 0).map((name) => [name, VALUES[next(VALUES.length)]]));
      const source = SOURCES[next(SOURCES.length)] ?? 'crm';
      const record: ReceivedRecord = {
        source: resend ? previous.source : source,
        sourceId: resend ? previous.sourceId : `${source}-${b}-${i}`,
        kind: 'contact',
        identifiers: { emails: resend ? (previous.identifiers?.emails ?? emails) : emails },
        traits,
        occurredAt: `2026-01-${String(1 + next(10)).padStart(2, '0')}T00:00:00.000Z`,
        receivedAt: new Date(Date.UTC(2026, 1, 1, 0, 0, b * 100 + i)).toISOString(),
      };
      batch.push(record);
      sent.push(record);
    }
    result.push(batch);
  }
  return result;
}

describe.each(STORES)('trait projections kept batch by batch on %s', (kind) => {
  let t: TestDb;
  let store: ProfileStore;
  beforeAll(async () => {
    t = await createTestDb(kind);
    await migrate(t.db);
    store = createProfileStore(t.db, resolveOptions(parseConfig({ identity: { traitPriority: PRIORITY } }).identity));
  });
  afterAll(async () => t?.drop());

  /** Each live profile's stored projection beside the one computed afresh from its records. */
  async function projections() {
    const rows = (
      await t.db.query<{ id: string; traits: Record<string, unknown>; trait_sources: Record<string, unknown>; records: { source: string; sourceId: string; traits: Record<string, unknown>; occurredAt: string; receivedAt: string }[] }>(
        `SELECT p.id, p.traits, p.trait_sources,
                json_agg(json_build_object('source', r.source, 'sourceId', r.source_id, 'traits', r.traits, 'occurredAt', r.occurred_at, 'receivedAt', r.received_at)) AS records
           FROM profiles p JOIN records r ON r.profile_id = p.id WHERE p.merged_into IS NULL GROUP BY p.id ORDER BY p.id`,
      )
    ).rows;
    return rows.map((row) => {
      const observations = row.records.map((r) => ({ ...r, occurredAt: new Date(r.occurredAt).toISOString(), receivedAt: new Date(r.receivedAt).toISOString() }));
      return { stored: { id: row.id, traits: row.traits, traitSources: row.trait_sources }, fresh: { id: row.id, ...projectTraits(observations, PRIORITY) } };
    });
  }

  it('equal, after every batch, the projection of every profile computed afresh from its records', async () => {
    for (const batch of batches()) {
      await store.resolveBatch(batch);
      const all = await projections();
      expect(all.map((p) => p.stored)).toEqual(all.map((p) => p.fresh));
    }
    const merged = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM profiles WHERE merged_into IS NOT NULL')).rows[0]?.n;
    expect(merged).toBeGreaterThan(3);
    expect((await projections()).length).toBeGreaterThan(20);
  });
});
