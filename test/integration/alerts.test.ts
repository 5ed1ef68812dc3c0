import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertRuleConfig } from '../../src/core/config/config.schema.js';
import { runScheduledAlerts } from '../../src/core/events/alerts.js';
import { createReportsStore } from '../../src/core/reports/reports.store.js';
import { STORES } from '../support/env.js';
import { startTestHub, waitFor, type TestHub } from '../support/hub.js';
import { startSubscriber, type Subscriber } from '../support/subscriber.js';

const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

const RULES: AlertRuleConfig[] = [
  { name: 'complaint', kind: 'complaint', statuses: ['complaint'], keywords: ['жалоба', 'refund'] },
  { name: 'big-order', kind: 'largeOrder', amount: 100000, currency: 'RUB' },
  { name: 'missed-call', kind: 'missedCallNoCallback', withinMinutes: 30 },
  { name: 'dormant', kind: 'inactive', days: 30 },
];

describe.each(STORES)('alert rules on %s', (store) => {
  let hub: TestHub;
  let subscriber: Subscriber;
  let secret: string;
  beforeAll(async () => {
    subscriber = await startSubscriber();
    hub = await startTestHub({ store, config: { events: { relayEveryMs: 50, sweepEveryMs: 300, alertCheckEveryMs: 200 }, alerts: RULES } });
    const res = await hub.request('POST', '/v1/subscriptions', { body: { url: subscriber.url('/alerts'), events: ['alert.*'] } });
    secret = res.json().secret;
  });
  afterAll(async () => {
    await hub?.close();
    await subscriber?.close();
  });

  async function ingest(records: unknown[]) {
    const res = await hub.request('POST', '/v1/records', { body: { records } });
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
  }
  const alerts = () => subscriber.delivered(secret, '/alerts');
  const keyOf = (a: { data: Record<string, unknown> }) => {
    const i = a.data['interaction'] as { source?: string; sourceId?: string } | undefined;
    return i ? `${i.source}:${i.sourceId}` : String(a.data['profileId']);
  };

  it('fires each rule once when it should and not otherwise', async () => {
    const call = (sourceId: string, phone: string, direction: string, status: string, at: string) => ({
      source: 'pbx', sourceId, kind: 'interaction', occurredAt: at, identifiers: { phones: [phone] }, interaction: { channel: 'call', direction, status },
    });
    await ingest([
      // complaint: a status, a Cyrillic keyword in any case; not a thank-you, not on the email channel
      { source: 'desk', sourceId: 't-1', kind: 'interaction', identifiers: { emails: ['c1@example.com'] }, interaction: { channel: 'ticket', subject: 'ЖАЛОБА на курьера', body: '...' } },
      { source: 'desk', sourceId: 't-2', kind: 'interaction', identifiers: { emails: ['c2@example.com'] }, interaction: { channel: 'feedback', status: 'Complaint' } },
      { source: 'desk', sourceId: 't-3', kind: 'interaction', identifiers: { emails: ['c3@example.com'] }, interaction: { channel: 'ticket', subject: 'Спасибо!' } },
      { source: 'mail', sourceId: 'e-1', kind: 'interaction', identifiers: { emails: ['c3@example.com'] }, interaction: { channel: 'email', subject: 'жалоба' } },
      // largeOrder: above the threshold in RUB only
      { source: 'shop', sourceId: 'o-1', kind: 'interaction', identifiers: { emails: ['b1@example.com'] }, interaction: { channel: 'order', amount: 150000, currency: 'RUB' } },
      { source: 'shop', sourceId: 'o-2', kind: 'interaction', identifiers: { emails: ['b1@example.com'] }, interaction: { channel: 'order', amount: 100000, currency: 'RUB' } },
      { source: 'shop', sourceId: 'o-3', kind: 'interaction', identifiers: { emails: ['b1@example.com'] }, interaction: { channel: 'invoice', amount: 900000, currency: 'USD' } },
      // missed calls: one without a callback fires; one called back within 30 min, an answered one and a recent one do not
      call('c-1', '+79160000001', 'inbound', 'missed', ago(120 * MINUTE)),
      call('c-2', '+79160000002', 'inbound', 'no-answer', ago(120 * MINUTE)),
      call('c-2b', '+79160000002', 'outbound', 'answered', ago(110 * MINUTE)),
      call('c-3', '+79160000003', 'inbound', 'answered', ago(120 * MINUTE)),
      call('c-4', '+79160000004', 'inbound', 'missed', ago(1 * MINUTE)),
      // inactive: quiet for 40 days fires; active yesterday does not; a contact with no interaction does not
      { source: 'erp', sourceId: 'q-1', kind: 'interaction', occurredAt: ago(40 * DAY), identifiers: { emails: ['quiet@example.com'] }, interaction: { channel: 'email' } },
      { source: 'erp', sourceId: 'q-2', kind: 'interaction', occurredAt: ago(40 * DAY), identifiers: { emails: ['busy@example.com'] }, interaction: { channel: 'email' } },
      { source: 'erp', sourceId: 'q-3', kind: 'interaction', occurredAt: ago(1 * DAY), identifiers: { emails: ['busy@example.com'] }, interaction: { channel: 'email' } },
      { source: 'erp', sourceId: 'k-1', kind: 'contact', identifiers: { emails: ['contact-only@example.com'] } },
    ]);
    const quiet = (await hub.request('GET', '/v1/records/erp/q-1')).json().profileId as string;
    const missed = (await hub.request('GET', '/v1/records/pbx/c-1')).json().profileId as string;

    await waitFor(async () => alerts().length >= 5);
    // Several more scheduler and relay rounds: nothing fires again.
    await new Promise((r) => setTimeout(r, 1200));
    // The same ticket sent again is an update, not a new interaction: no second alert.
    await ingest([{ source: 'desk', sourceId: 't-1', kind: 'interaction', identifiers: { emails: ['c1@example.com'] }, interaction: { channel: 'ticket', subject: 'ЖАЛОБА на курьера (повтор)' } }]);
    await new Promise((r) => setTimeout(r, 600));

    const got = alerts().map((a) => `${a.type} ${keyOf(a)}`).sort();
    expect(got).toEqual(
      [
        'alert.complaint desk:t-1',
        'alert.complaint desk:t-2',
        'alert.big-order shop:o-1',
        'alert.missed-call pbx:c-1',
        `alert.dormant ${quiet}`,
      ].sort(),
    );
    const byType = Object.fromEntries(alerts().map((a) => [a.type, a]));
    expect(byType['alert.missed-call']?.data).toMatchObject({ profileId: missed, rule: 'missed-call', reason: expect.stringContaining('no outbound call') });
    expect(byType['alert.dormant']?.data).toMatchObject({ profileId: quiet, rule: 'dormant', days: 30, reason: expect.stringContaining('30 days') });
    expect(byType['alert.big-order']?.data).toMatchObject({ amount: 150000, currency: 'RUB' });
    for (const a of alerts()) expect(a.data['reason']).toEqual(expect.any(String));
  });

  it('fires a scheduled alert once when two workers check at the same moment, and never on a re-run', async () => {
    await ingest([
      { source: 'pbx', sourceId: 'race-1', kind: 'interaction', occurredAt: ago(90 * MINUTE), identifiers: { phones: ['+79160000099'] }, interaction: { channel: 'call', direction: 'inbound', status: 'busy' } },
    ]);
    const rules: AlertRuleConfig[] = [{ name: 'race', kind: 'missedCallNoCallback', withinMinutes: 30 }];
    const { fold } = createReportsStore(hub.testDb.db);
    const fired = await Promise.all([runScheduledAlerts(hub.testDb.db, rules, fold), runScheduledAlerts(hub.testDb.db, rules, fold)]);
    expect(fired[0] + fired[1]).toBeGreaterThanOrEqual(1);
    const events = await hub.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM alerts_fired WHERE rule = 'race'`);
    const total = events.rows[0]?.n ?? 0;
    expect(fired[0] + fired[1]).toBe(total);
    expect(await runScheduledAlerts(hub.testDb.db, rules, fold)).toBe(0);
    await waitFor(async () => alerts().filter((a) => a.type === 'alert.race').length === total);
    await new Promise((r) => setTimeout(r, 400));
    expect(alerts().filter((a) => a.type === 'alert.race' && keyOf(a) === 'pbx:race-1')).toHaveLength(1);
  });
});
