import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../support/env.js';
import { createTestDb, defaultProfileStore, type TestDb } from '../support/hub.js';
import { migrate } from '../../src/core/store/migrate.js';
import { createCurationStore } from '../../src/core/store/curation.store.js';
import { runScheduledAlerts } from '../../src/core/events/alerts.js';
import { createReportsStore } from '../../src/core/reports/reports.store.js';
import type { AlertRuleConfig } from '../../src/core/config/config.schema.js';
import type { HubRecord } from '../../src/core/record.schema.js';
import type { Db } from '../../src/core/store/db.js';

// The inactive rule reads the report rollups' last interaction per profile through two cursors
// (profiles falling quiet as time passes; profiles changed since the last check). After every
// check, nothing that the rule's definition makes due may be left unfired: the query below is that
// definition, read from the records as the rule did before the rollups.

const DAY = 86_400_000;
const RULE: AlertRuleConfig = { name: 'dormant', kind: 'inactive', days: 30 };

/** Keys the rule's definition makes due and that have not fired: live profiles whose last interaction is 30 days old. */
async function dueUnfired(db: Db): Promise<string[]> {
  const rows = (
    await db.query<{ key: string }>(
      `SELECT key FROM (
         SELECT r.profile_id::text || '@' || floor(extract(epoch FROM max(r.occurred_at)) * 1000)::bigint::text AS key
           FROM records r JOIN profiles p ON p.id = r.profile_id AND p.merged_into IS NULL
          WHERE r.kind = 'interaction'
          GROUP BY r.profile_id
         HAVING max(r.occurred_at) <= now() - interval '30 days') s
        WHERE NOT EXISTS (SELECT 1 FROM alerts_fired f WHERE f.rule = 'dormant' AND f.key = s.key)`,
    )
  ).rows;
  return rows.map((r) => r.key);
}

async function firedKeys(db: Db): Promise<string[]> {
  return (await db.query<{ key: string }>(`SELECT key FROM alerts_fired WHERE rule = 'dormant' ORDER BY key`)).rows.map((r) => r.key);
}

describe.each(STORES)('the inactive alert rule on %s', (kind) => {
  let testDb: TestDb;
  let db: Db;
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
  let clock = Date.now();
  const store = () => defaultProfileStore(db);
  const ingest = (records: HubRecord[]) => store().resolveBatch(records.map((r) => ({ ...r, receivedAt: new Date((clock += 1000)).toISOString() })));
  const talk = (who: string, sourceId: string, at: string): HubRecord => ({
    source: 'mail',
    sourceId,
    kind: 'interaction',
    occurredAt: at,
    identifiers: { emails: [`${who}@example.com`] },
    interaction: { channel: 'email' },
  });
  const profileOf = async (sourceId: string) => (await db.query<{ id: string }>(`SELECT profile_id AS id FROM records WHERE source = 'mail' AND source_id = $1`, [sourceId])).rows[0]?.id ?? '';
  const check = async () => {
    const fired = await runScheduledAlerts(db, [RULE], createReportsStore(db).fold);
    expect(await dueUnfired(db)).toEqual([]);
    return fired;
  };

  beforeAll(async () => {
    testDb = await createTestDb(kind);
    db = testDb.db;
    await migrate(db);
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  it('fires for profiles that fall quiet, that arrive quiet, that a split leaves quiet, once per quiet period', async () => {
    // Falls quiet 6 seconds from now.
    const soonAt = Date.now() - 30 * DAY + 6000;
    await ingest([
      talk('quiet', 'q-1', ago(40 * DAY)),
      talk('soon', 's-1', new Date(soonAt).toISOString()),
      talk('busy', 'b-1', ago(DAY)),
      { source: 'crm', sourceId: 'k-1', kind: 'contact', identifiers: { emails: ['contact-only@example.com'] } },
    ]);
    expect(await check()).toBe(1);
    expect(await firedKeys(db)).toEqual([expect.stringMatching(new RegExp(`^${await profileOf('q-1')}@`))]);
    // A re-run fires nothing.
    expect(await check()).toBe(0);

    // Time passes: the walk along the last interactions reaches "soon".
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, soonAt + 30 * DAY - Date.now()) + 200));
    expect(await check()).toBe(1);
    const soon = await profileOf('s-1');
    expect((await firedKeys(db)).some((k) => k.startsWith(`${soon}@`))).toBe(true);

    // A profile that arrives with only old history, behind the walk: found among the changed profiles.
    await ingest([talk('imported', 'i-1', ago(100 * DAY))]);
    expect(await check()).toBe(1);

    // A later interaction, still 30 days old, starts a new quiet period of "quiet": it fires again.
    await ingest([talk('quiet', 'q-2', ago(35 * DAY))]);
    expect(await check()).toBe(1);

    // Split off that interaction: the new profile is quiet since then (a new key); "quiet" is back
    // to its first period, which has fired.
    const quiet = await profileOf('q-1');
    await createCurationStore(db, store()).splitProfile(quiet, [{ source: 'mail', sourceId: 'q-2' }], 'test');
    expect(await check()).toBe(1);

    // A merge into a busy profile: the survivor is busy, nothing is due.
    await ingest([{ ...talk('busy', 'b-2', ago(2 * DAY)), identifiers: { emails: ['busy@example.com', 'imported@example.com'] } }]);
    expect(await check()).toBe(0);

    // Two checks at once fire each occasion once.
    await ingest([talk('late', 'l-1', ago(50 * DAY)), talk('later', 'l-2', ago(60 * DAY))]);
    const fold = createReportsStore(db).fold;
    const both = await Promise.all([runScheduledAlerts(db, [RULE], fold), runScheduledAlerts(db, [RULE], fold)]);
    expect(both[0] + both[1]).toBe(2);
    expect(await dueUnfired(db)).toEqual([]);
    expect(await firedKeys(db)).toHaveLength(7);
  });

  it('starts over when the rule changes its days', async () => {
    const fold = createReportsStore(db).fold;
    const wider = { ...RULE, days: 45 } as AlertRuleConfig;
    // Profiles quiet for 45 days have fired under 30 days with the same keys: nothing new.
    expect(await runScheduledAlerts(db, [wider], fold)).toBe(0);
    expect(await runScheduledAlerts(db, [{ ...RULE, days: 10 } as AlertRuleConfig], fold)).toBe(0);
    // At 1 day, the busy profile (last interaction 2 days ago) is due: a new occasion.
    expect(await runScheduledAlerts(db, [{ ...RULE, days: 1 } as AlertRuleConfig], fold)).toBe(1);
  });
});
