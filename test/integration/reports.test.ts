import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { STORES } from '../support/env.js';
import { createTestDb, SCOPED_KEYS, startTestHub, type TestDb, type TestHub, defaultProfileStore } from '../support/hub.js';
import { migrate } from '../../src/core/store/migrate.js';
import type { ReceivedRecord } from '../../src/core/record.schema.js';

// A known input: each record names the person it belongs to (`who`, never sent), so the test can
// compute every figure on its own. People's identifiers are theirs alone, so who = profile.
type Interaction = { channel: string; amount?: number; currency?: string };
type Input = { who: string; source: string; sourceId: string; kind: 'contact' | 'interaction'; occurredAt: string; interaction?: Interaction; traits?: Record<string, string>; emails?: string[]; phones?: string[] };

const PEOPLE: Record<string, { email: string; phone: string; traits: Record<string, string> }> = {
  ivan: { email: 'ivan.petrov@example.com', phone: '+79161234567', traits: { firstName: 'Иван', lastName: 'Петров', company: 'ООО «Ромашка»' } },
  maria: { email: 'maria@example.org', phone: '+79030001122', traits: { firstName: 'Мария', lastName: 'Сидорова' } },
  oleg: { email: 'oleg@example.net', phone: '+79260000001', traits: { fullName: '=Олег Ковалёв', company: 'ООО "Вектор", филиал' } },
  anna: { email: 'anna@example.com', phone: '+79991112233', traits: { firstName: 'Анна' } },
  lev: { email: 'lev@example.com', phone: '+79995550000', traits: { firstName: 'Лев', lastName: 'Толстой' } },
};

function contact(who: string, source: string, sourceId: string, occurredAt: string, ids: { email?: boolean; phone?: boolean } = { email: true, phone: true }): Input {
  const p = PEOPLE[who]!;
  return { who, source, sourceId, kind: 'contact', occurredAt, traits: p.traits, ...(ids.email ? { emails: [p.email.toUpperCase()] } : {}), ...(ids.phone ? { phones: [p.phone] } : {}) };
}
function act(who: string, source: string, sourceId: string, occurredAt: string, interaction: Interaction, ids: { email?: boolean; phone?: boolean } = { email: true }): Input {
  const p = PEOPLE[who]!;
  return { who, source, sourceId, kind: 'interaction', occurredAt, interaction, ...(ids.email ? { emails: [p.email] } : {}), ...(ids.phone ? { phones: [p.phone] } : {}) };
}

// Batch 1 leaves Anna as two profiles (an email-only and a phone-only contact); batch 2 links them: one merge.
const BATCH_1: Input[] = [
  contact('ivan', 'erp', 'C-1', '2026-09-01T09:00:00Z'),
  contact('ivan', 'web', 'w-1', '2026-10-05T12:00:00Z', { email: true }),
  act('ivan', 'shop', 'o-1', '2026-10-05T12:30:00Z', { channel: 'order', amount: 1000, currency: 'RUB' }),
  act('ivan', 'erp', 'i-1', '2026-10-06T08:00:00Z', { channel: 'invoice', amount: 1000, currency: 'RUB' }),
  act('ivan', 'bank', 'p-1', '2026-10-07T23:59:59Z', { channel: 'payment', amount: 1000, currency: 'RUB' }),
  act('ivan', 'shop', 'o-2', '2026-11-02T10:00:00Z', { channel: 'order', amount: 49.5, currency: 'USD' }),
  act('ivan', 'pbx', 'call-1', '2026-11-02T11:00:00Z', { channel: 'call' }, { phone: true }),
  contact('maria', 'erp', 'C-2', '2026-09-15T10:00:00Z'),
  act('maria', 'pbx', 'call-2', '2026-10-05T10:00:00Z', { channel: 'call' }, { phone: true }),
  act('maria', 'pbx', 'call-3', '2026-10-19T10:00:00Z', { channel: 'call' }, { phone: true }),
  act('maria', 'shop', 'o-3', '2026-10-19T11:00:00Z', { channel: 'order', amount: 2500.25, currency: 'RUB' }),
  contact('oleg', 'web', 'w-2', '2026-10-06T00:00:00Z'),
  act('oleg', 'shop', 'o-4', '2026-10-06T01:00:00Z', { channel: 'order', amount: 300.5, currency: 'RUB' }),
  act('oleg', 'shop', 'o-5', '2026-10-13T01:00:00Z', { channel: 'order', amount: 200, currency: 'RUB' }),
  act('oleg', 'erp', 'i-2', '2026-10-14T01:00:00Z', { channel: 'invoice', amount: 400, currency: 'RUB' }),
  act('oleg', 'shop', 'o-6', '2026-10-14T02:00:00Z', { channel: 'order', amount: 75, currency: 'USD' }),
  contact('anna', 'erp', 'C-3', '2026-10-01T00:00:00Z', { email: true }),
  contact('anna', 'crm', 'K-1', '2026-10-20T00:00:00Z', { phone: true }),
  act('lev', 'web', 'f-1', '2026-11-03T15:00:00Z', { channel: 'form' }),
];
const BATCH_2: Input[] = [act('anna', 'mail', 'm-1', '2026-11-04T09:00:00Z', { channel: 'email' }, { email: true, phone: true })];
const INPUT = [...BATCH_1, ...BATCH_2];
const POISON = { source: 'bad', sourceId: 'poison', kind: 'contact', identifiers: { emails: ['poison@example.com'] } };

function toRecord(i: Input) {
  return {
    source: i.source,
    sourceId: i.sourceId,
    kind: i.kind,
    occurredAt: i.occurredAt,
    identifiers: { ...(i.emails ? { emails: i.emails } : {}), ...(i.phones ? { phones: i.phones } : {}) },
    ...(i.traits ? { traits: i.traits } : {}),
    ...(i.interaction ? { interaction: i.interaction } : {}),
  };
}

// ---- the figures, computed from the input alone

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const item of items) m.set(key(item), (m.get(key(item)) ?? 0) + 1);
  return m;
}

function bucket(at: string, interval: 'day' | 'week' | 'month'): string {
  const d = new Date(at);
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  if (interval === 'day') return day.toISOString();
  if (interval === 'month') return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)).toISOString();
  const sinceMonday = (day.getUTCDay() + 6) % 7;
  return new Date(day.getTime() - sinceMonday * 86_400_000).toISOString();
}

const people = [...new Set(INPUT.map((i) => i.who))];
const sourcesOf = (who: string) => new Set(INPUT.filter((i) => i.who === who).map((i) => i.source));

function expectedSources() {
  const sources = [...new Set(INPUT.map((i) => i.source))].sort();
  return sources.map((source) => {
    const mine = INPUT.filter((i) => i.source === source);
    const duplicateRecords = mine.filter((i) => sourcesOf(i.who).size > 1).length;
    return {
      source,
      records: mine.length,
      contacts: mine.filter((i) => i.kind === 'contact').length,
      interactions: mine.filter((i) => i.kind === 'interaction').length,
      profiles: new Set(mine.map((i) => i.who)).size,
      duplicateRecords,
      duplicateRate: duplicateRecords / mine.length,
      failed: 0,
    };
  });
}

function expectedSeries(from: string, to: string, interval: 'day' | 'week' | 'month', channel?: string) {
  const inRange = INPUT.filter((i) => i.kind === 'interaction' && i.occurredAt >= from && i.occurredAt < to && (!channel || i.interaction?.channel === channel));
  const rows = new Map<string, { period: string; channel: string; count: number; amounts: Map<string, number> }>();
  for (const i of inRange) {
    const period = bucket(i.occurredAt, interval);
    const key = `${period} ${i.interaction!.channel}`;
    const row = rows.get(key) ?? { period, channel: i.interaction!.channel, count: 0, amounts: new Map() };
    row.count += 1;
    if (i.interaction!.amount !== undefined) row.amounts.set(i.interaction!.currency ?? 'XXX', (row.amounts.get(i.interaction!.currency ?? 'XXX') ?? 0) + i.interaction!.amount);
    rows.set(key, row);
  }
  return [...rows.values()]
    .sort((a, b) => a.period.localeCompare(b.period) || a.channel.localeCompare(b.channel))
    .map((r) => ({ period: r.period, channel: r.channel, count: r.count, amounts: [...r.amounts].sort().map(([currency, amount]) => ({ currency, amount })) }));
}

function expectedValues() {
  const rows: { name: string; currency: string; value: number; stage: string }[] = [];
  for (const who of people) {
    const sales = INPUT.filter((i) => i.who === who && ['order', 'invoice', 'payment'].includes(i.interaction?.channel ?? ''));
    for (const currency of new Set(sales.map((s) => s.interaction!.currency!))) {
      const inCurrency = sales.filter((s) => s.interaction!.currency === currency);
      const stage = ['payment', 'invoice', 'order'].find((st) => inCurrency.some((s) => s.interaction!.channel === st))!;
      const value = inCurrency.filter((s) => s.interaction!.channel === stage).reduce((sum, s) => sum + s.interaction!.amount!, 0);
      rows.push({ name: nameOf(who), currency, value, stage });
    }
  }
  return rows.sort((a, b) => b.value - a.value);
}

function nameOf(who: string): string {
  const t = PEOPLE[who]!.traits;
  return t['fullName'] ?? [t['firstName'], t['lastName']].filter(Boolean).join(' ');
}

function lastInteraction(who: string): string | undefined {
  return INPUT.filter((i) => i.who === who && i.kind === 'interaction')
    .map((i) => i.occurredAt)
    .sort()
    .pop();
}

function expectedNewVsReturning(from: string, to: string, interval: 'day' | 'week' | 'month') {
  const first = new Map(people.map((who) => [who, INPUT.filter((i) => i.who === who).map((i) => i.occurredAt).sort()[0]!]));
  const rows = new Map<string, { new: number; returning: number }>();
  const row = (period: string) => rows.get(period) ?? rows.set(period, { new: 0, returning: 0 }).get(period)!;
  for (const who of people) {
    const f = first.get(who)!;
    if (f >= from && f < to) row(bucket(f, interval)).new += 1;
    const visited = new Set(INPUT.filter((i) => i.who === who && i.kind === 'interaction' && i.occurredAt >= from && i.occurredAt < to).map((i) => bucket(i.occurredAt, interval)));
    for (const period of visited) {
      const windowStart = period > from ? period : from;
      if (new Date(f) < new Date(windowStart)) row(period).returning += 1;
    }
  }
  return [...rows].sort(([a], [b]) => a.localeCompare(b)).map(([period, r]) => ({ period: new Date(period).toISOString(), ...r }));
}

function csv(body: string): Record<string, string>[] {
  return parse(body, { columns: true, skip_empty_lines: true });
}

describe.each(STORES)('reports on %s', (store) => {
  let hub: TestHub;
  let testDb: TestDb;
  let profileOf: Map<string, string>;

  beforeAll(async () => {
    testDb = await createTestDb(store);
    await migrate(testDb.db);
    const real = defaultProfileStore(testDb.db);
    const workerStore = {
      resolveBatch: (records: ReceivedRecord[]) =>
        records.some((r) => r.source === 'bad') ? Promise.reject(new Error('cannot store a "bad" record')) : real.resolveBatch(records),
    };
    hub = await startTestHub({ store, testDb, workerStore, config: { pipeline: { attempts: 1 } } });
    for (const batch of [BATCH_1, BATCH_2, [POISON]]) {
      const res = await hub.request('POST', '/v1/records', { body: { records: batch.map((b) => ('who' in b ? toRecord(b as Input) : b)) } });
      expect(res.statusCode, res.body).toBe(202);
      await hub.drained();
    }
    profileOf = new Map();
    for (const i of INPUT) {
      const status = (await hub.request('GET', `/v1/records/${i.source}/${i.sourceId}`)).json();
      expect(status.status).toBe('processed');
      profileOf.set(i.who, status.profileId);
    }
  });
  afterAll(async () => {
    await hub?.close();
    await testDb?.drop();
  });

  it('the input is what the test assumes: one profile per person', async () => {
    for (const i of INPUT) expect((await hub.request('GET', `/v1/records/${i.source}/${i.sourceId}`)).json().profileId).toBe(profileOf.get(i.who));
    expect(new Set(profileOf.values()).size).toBe(people.length);
  });

  it('overview counts profiles, merged ids, records by kind and channel, sources and merges', async () => {
    const res = await hub.request('GET', '/v1/reports/overview', { key: SCOPED_KEYS.read });
    expect(res.statusCode, res.body).toBe(200);
    const interactions = INPUT.filter((i) => i.kind === 'interaction');
    const times = INPUT.map((i) => i.occurredAt).sort();
    expect(res.json()).toEqual({
      profiles: { live: people.length, merged: 1 },
      records: { total: INPUT.length, contacts: INPUT.length - interactions.length, interactions: interactions.length },
      interactionsByChannel: [...countBy(interactions, (i) => i.interaction!.channel)]
        .map(([channel, count]) => ({ channel, count }))
        .sort((a, b) => b.count - a.count || a.channel.localeCompare(b.channel)),
      sources: new Set(INPUT.map((i) => i.source)).size,
      merges: 1,
      firstRecordAt: new Date(times[0]!).toISOString(),
      lastRecordAt: new Date(times[times.length - 1]!).toISOString(),
    });
    const rows = csv((await hub.request('GET', '/v1/reports/overview', { headers: { accept: 'text/csv' } })).body);
    const byMetric = new Map(rows.map((r) => [r['metric'], r['value']]));
    expect(Number(byMetric.get('profiles.live'))).toBe(people.length);
    expect(Number(byMetric.get('records.total'))).toBe(INPUT.length);
    expect(Number(byMetric.get('interactions.order'))).toBe(interactions.filter((i) => i.interaction!.channel === 'order').length);
  });

  it('sources: records, profiles touched, duplicate rate and failures per source; CSV parses back to the same figures', async () => {
    const expected = [...expectedSources(), { source: 'bad', records: 0, contacts: 0, interactions: 0, profiles: 0, duplicateRecords: 0, duplicateRate: 0, failed: 1 }].sort((a, b) =>
      a.source.localeCompare(b.source),
    );
    const res = await hub.request('GET', '/v1/reports/sources', { key: SCOPED_KEYS.read });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ data: expected, failedTruncated: false });
    // Not vacuous: some sources are wholly duplicated, some not at all.
    expect(expected.find((s) => s.source === 'web')!.duplicateRate).toBeCloseTo(2 / 3);
    expect(expected.find((s) => s.source === 'bank')!.duplicateRate).toBe(1);

    const out = await hub.request('GET', '/v1/reports/sources', { headers: { accept: 'text/csv' } });
    expect(out.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(out.headers['vary']).toMatch(/Accept/i);
    expect(csv(out.body).map((r) => ({ ...r, source: r['source'] }))).toEqual(
      expected.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, String(v)]))),
    );
  });

  it('interactions: per channel per UTC day, week and month, with amounts per currency, and by channel', async () => {
    const cases: { from: string; to: string; interval: 'day' | 'week' | 'month'; channel?: string }[] = [
      { from: '2026-09-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', interval: 'day' },
      { from: '2026-10-01T00:00:00.000Z', to: '2026-11-03T00:00:00.000Z', interval: 'week' },
      { from: '2026-09-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', interval: 'month' },
      { from: '2026-09-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z', interval: 'week', channel: 'order' },
    ];
    for (const c of cases) {
      const qs = `from=${c.from}&to=${c.to}&interval=${c.interval}${c.channel ? `&channel=${c.channel}` : ''}`;
      const res = await hub.request('GET', `/v1/reports/interactions?${qs}`, { key: SCOPED_KEYS.read });
      expect(res.statusCode, res.body).toBe(200);
      const expected = expectedSeries(c.from, c.to, c.interval, c.channel);
      expect(expected.length).toBeGreaterThan(1);
      const body = res.json();
      expect(body).toMatchObject({ from: c.from, to: c.to, interval: c.interval });
      expect(body.data.map((r: { amounts: { currency: string }[] }) => ({ ...r, amounts: [...r.amounts].sort((a, b) => a.currency.localeCompare(b.currency)) }))).toEqual(expected);

      const rows = csv((await hub.request('GET', `/v1/reports/interactions?${qs}`, { headers: { accept: 'text/csv' } })).body);
      expect(rows.map((r) => ({ period: r['period'], channel: r['channel'], count: Number(r['count']), rub: r['amount_RUB'] ?? '' }))).toEqual(
        expected.map((e) => ({ period: e.period, channel: e.channel, count: e.count, rub: String(e.amounts.find((a) => a.currency === 'RUB')?.amount ?? '') })),
      );
    }
    // A date-only `to` takes in that whole day.
    const day = (await hub.request('GET', '/v1/reports/interactions?from=2026-10-05&to=2026-10-07&interval=day')).json();
    expect(day.to).toBe('2026-10-08T00:00:00.000Z');
    expect(day.data).toEqual(expectedSeries('2026-10-05T00:00:00.000Z', '2026-10-08T00:00:00.000Z', 'day'));
  });

  it('customers by value: the most settled stage per profile and currency, highest first, paged, and as CSV', async () => {
    const expected = expectedValues();
    const res = await hub.request('GET', '/v1/reports/customers?sort=value', { key: SCOPED_KEYS.read });
    expect(res.statusCode, res.body).toBe(200);
    const data = res.json().data as { profileId: string; name: string; currency: string; value: number; stage: string }[];
    expect(data.map(({ name, currency, value, stage }) => ({ name, currency, value, stage }))).toEqual(expected);
    // Ivan: order, invoice and payment of one 1000 RUB sale count once.
    expect(data.find((d) => d.name === 'Иван Петров' && d.currency === 'RUB')).toMatchObject({ value: 1000, stage: 'payment', profileId: profileOf.get('ivan') });

    const usd = (await hub.request('GET', '/v1/reports/customers?sort=value&currency=USD')).json().data;
    expect(usd.map((d: { value: number }) => d.value)).toEqual(expected.filter((e) => e.currency === 'USD').map((e) => e.value));

    const paged: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: unknown[]; nextCursor: string | null } = (await hub.request('GET', `/v1/reports/customers?sort=value&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json();
      paged.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(data);

    const out = await hub.request('GET', '/v1/reports/customers?sort=value', { headers: { accept: 'text/csv' } });
    const rows = csv(out.body);
    expect(rows.map((r) => ({ name: r['name'], currency: r['currency'], value: Number(r['value']), stage: r['stage'] }))).toEqual(
      // A name that a spreadsheet would run as a formula is written with a leading apostrophe.
      expected.map((e) => ({ ...e, name: e.name.startsWith('=') ? `'${e.name}` : e.name })),
    );
    expect(rows.find((r) => r['name'] === "'=Олег Ковалёв")?.['company']).toBe('ООО "Вектор", филиал');
  });

  it('customers by recency: days since the last interaction, most recent first or longest silent first', async () => {
    const res = await hub.request('GET', '/v1/reports/customers?sort=recency', { key: SCOPED_KEYS.read });
    expect(res.statusCode, res.body).toBe(200);
    const { asOf, data } = res.json();
    const expected = people
      .filter((who) => lastInteraction(who))
      .map((who) => ({ profileId: profileOf.get(who), lastInteractionAt: new Date(lastInteraction(who)!).toISOString(), daysSinceLastInteraction: Math.floor((Date.parse(asOf) - Date.parse(lastInteraction(who)!)) / 86_400_000) }))
      .sort((a, b) => b.lastInteractionAt.localeCompare(a.lastInteractionAt));
    expect(data.map(({ profileId, lastInteractionAt, daysSinceLastInteraction }: Record<string, unknown>) => ({ profileId, lastInteractionAt, daysSinceLastInteraction }))).toEqual(expected);
    const silent = (await hub.request('GET', '/v1/reports/customers?sort=recency&order=desc&limit=2')).json();
    expect(silent.data.map((d: { profileId: string }) => d.profileId)).toEqual([...expected].reverse().slice(0, 2).map((e) => e.profileId));
    const rows = csv((await hub.request('GET', '/v1/reports/customers?sort=recency', { headers: { accept: 'text/csv' } })).body);
    expect(rows.map((r) => r['lastInteractionAt'])).toEqual(expected.map((e) => e.lastInteractionAt));
    expect(rows.map((r) => r['name'])).toContain('Мария Сидорова');
  });

  it('new vs returning customers per period', async () => {
    for (const [from, to, interval] of [
      ['2026-09-01T00:00:00.000Z', '2026-12-01T00:00:00.000Z', 'month'],
      ['2026-10-01T00:00:00.000Z', '2026-11-10T00:00:00.000Z', 'week'],
      ['2026-10-05T06:00:00.000Z', '2026-11-05T00:00:00.000Z', 'day'],
    ] as const) {
      const qs = `from=${from}&to=${to}&interval=${interval}`;
      const res = await hub.request('GET', `/v1/reports/customers/new-vs-returning?${qs}`, { key: SCOPED_KEYS.read });
      expect(res.statusCode, res.body).toBe(200);
      const expected = expectedNewVsReturning(from, to, interval);
      expect(expected.some((e) => e.returning > 0) && expected.some((e) => e.new > 0)).toBe(true);
      expect(res.json().data).toEqual(expected);
      const rows = csv((await hub.request('GET', `/v1/reports/customers/new-vs-returning?${qs}`, { headers: { accept: 'text/csv' } })).body);
      expect(rows.map((r) => ({ period: r['period'], new: Number(r['new']), returning: Number(r['returning']) }))).toEqual(expected);
    }
  });

  it('answers 400 problem+json to bad parameters, 401 without a key and 403 without the read scope', async () => {
    for (const url of [
      '/v1/reports/interactions?from=2026-11-01&to=2026-10-01',
      '/v1/reports/interactions?from=2026-13-01',
      '/v1/reports/interactions?from=yesterday',
      '/v1/reports/interactions?interval=hour',
      '/v1/reports/interactions?channel=fax',
      '/v1/reports/interactions?from=1900-01-01&to=2026-01-01&interval=day',
      '/v1/reports/interactions?bogus=1',
      '/v1/reports/customers?sort=money',
      '/v1/reports/customers?currency=rub',
      '/v1/reports/customers?sort=recency&currency=RUB',
      '/v1/reports/customers?limit=0',
      '/v1/reports/customers?cursor=not-a-cursor',
      '/v1/reports/customers/new-vs-returning?from=2026-11-01T00:00:00Z&to=2026-11-01T00:00:00Z',
    ]) {
      const res = await hub.request('GET', url);
      expect(res.statusCode, url).toBe(400);
      expect(res.headers['content-type'], url).toMatch(/^application\/problem\+json/);
      expect(res.json().status).toBe(400);
    }
    expect((await hub.request('GET', '/v1/reports/overview', { key: null })).statusCode).toBe(401);
    expect((await hub.request('GET', '/v1/reports/overview', { key: SCOPED_KEYS.ingest })).statusCode).toBe(403);
  });
});
