import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../support/env.js';
import { startTestHub, type TestHub } from '../support/hub.js';

describe.each(STORES)('identity resolution on %s', (store) => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ store, config: { identity: { traitPriority: { company: ['erp'] } } } });
  });
  afterAll(async () => hub?.close());

  async function ingest(records: unknown[]) {
    const res = await hub.request('POST', '/v1/records', { body: { records } });
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
  }
  async function profileOf(source: string, sourceId: string): Promise<string> {
    const res = await hub.request('GET', `/v1/records/${source}/${encodeURIComponent(sourceId)}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().status).toBe('processed');
    return res.json().profileId as string;
  }

  it('joins the same person from three sources written differently into one profile with three records', async () => {
    await ingest([
      { source: 'erp', sourceId: 'C-001', kind: 'contact', identifiers: { emails: ['Ivan.Petrov@Example.com'] }, traits: { firstName: 'Иван', lastName: 'Петров', company: 'ООО Ромашка' } },
      { source: 'web', sourceId: 'f-17', kind: 'interaction', identifiers: { emails: [' ivan.petrov@EXAMPLE.com '], phones: ['8 (916) 123-45-67'] }, interaction: { channel: 'form', subject: 'Заявка' } },
      { source: 'pbx', sourceId: 'call-9', kind: 'interaction', identifiers: { phones: ['+7 916 123 45 67'] }, interaction: { channel: 'call', direction: 'inbound', durationSec: 95 } },
      { source: 'erp', sourceId: 'C-002', kind: 'contact', identifiers: { emails: ['maria@example.org'], phones: ['+7 903 000 11 22'] }, traits: { firstName: 'Мария' } },
    ]);
    const ids = await Promise.all([profileOf('erp', 'C-001'), profileOf('web', 'f-17'), profileOf('pbx', 'call-9')]);
    expect(new Set(ids).size).toBe(1);
    const other = await profileOf('erp', 'C-002');
    expect(other).not.toBe(ids[0]);

    const res = await hub.request('GET', `/v1/profiles/${ids[0]}`);
    const profile = res.json();
    expect(profile.records.map((r: { source: string }) => r.source).sort()).toEqual(['erp', 'pbx', 'web']);
    expect(profile.traits).toMatchObject({ firstName: 'Иван', lastName: 'Петров', company: 'ООО Ромашка' });
    expect(profile.traitSources.firstName).toMatchObject({ source: 'erp', sourceId: 'C-001' });
    expect(profile.identifiers).toEqual(
      expect.arrayContaining([
        { type: 'email', value: 'ivan.petrov@example.com', sources: ['erp', 'web'] },
        { type: 'phone', value: '+79161234567', sources: ['pbx', 'web'] },
        { type: 'externalId', value: 'erp:C-001', sources: ['erp'] },
      ]),
    );
    expect(profile.stats).toMatchObject({ records: 3, interactions: 2 });

    for (const query of ['email=IVAN.PETROV%40example.com', 'phone=8%20916%20123%2045%2067', 'externalId=erp%3AC-001', 'q=%D0%BF%D0%B5%D1%82%D1%80']) {
      const found = await hub.request('GET', `/v1/profiles?${query}`);
      expect(found.json().data.map((p: { id: string }) => p.id), query).toEqual([ids[0]]);
    }
    const timeline = (await hub.request('GET', `/v1/profiles/${ids[0]}/timeline`)).json();
    expect(timeline.data.map((i: { channel: string }) => i.channel).sort()).toEqual(['call', 'form']);
  });

  it('merges two profiles when a record links them, and the merged-away id answers 308', async () => {
    await ingest([
      { source: 'erp', sourceId: 'A-1', kind: 'contact', occurredAt: '2026-01-01T00:00:00Z', identifiers: { emails: ['anna@example.com'] }, traits: { firstName: 'Anna', company: 'ERP Co' } },
      { source: 'crm', sourceId: 'B-1', kind: 'contact', occurredAt: '2026-02-01T00:00:00Z', identifiers: { phones: ['+7 999 111 22 33'] }, traits: { firstName: 'Анна', company: 'CRM Co' } },
    ]);
    const a = await profileOf('erp', 'A-1');
    const b = await profileOf('crm', 'B-1');
    expect(a).not.toBe(b);

    await ingest([{ source: 'mail', sourceId: 'm-1', kind: 'interaction', identifiers: { emails: ['ANNA@example.com'], phones: ['89991112233'] }, interaction: { channel: 'email' } }]);
    const survivor = await profileOf('mail', 'm-1');
    expect([a, b]).toContain(survivor);
    expect(await profileOf('erp', 'A-1')).toBe(survivor);
    expect(await profileOf('crm', 'B-1')).toBe(survivor);

    const merged = survivor === a ? b : a;
    const redirect = await hub.request('GET', `/v1/profiles/${merged}`);
    expect(redirect.statusCode).toBe(308);
    expect(redirect.headers['location']).toBe(`/v1/profiles/${survivor}`);
    expect(redirect.json()).toEqual({ mergedInto: survivor });

    const profile = (await hub.request('GET', `/v1/profiles/${survivor}`)).json();
    expect(profile.stats.records).toBe(3);
    // Most recent non-empty value by default; company follows the configured source priority.
    expect(profile.traits.firstName).toBe('Анна');
    expect(profile.traitSources.firstName.source).toBe('crm');
    expect(profile.traits.company).toBe('ERP Co');
    expect(profile.traitSources.company.source).toBe('erp');
  });

  it('updates a re-sent record in place and ignores an older version', async () => {
    await ingest([{ source: 'erp', sourceId: 'R-1', kind: 'contact', identifiers: { emails: ['resend@example.com'] }, traits: { city: 'Тверь' } }]);
    await ingest([{ source: 'erp', sourceId: 'R-1', kind: 'contact', identifiers: { emails: ['resend@example.com'] }, traits: { city: 'Москва' } }]);
    const id = await profileOf('erp', 'R-1');
    const profile = (await hub.request('GET', `/v1/profiles/${id}`)).json();
    expect(profile.stats.records).toBe(1);
    expect(profile.traits.city).toBe('Москва');

    const older = { source: 'erp', sourceId: 'R-1', kind: 'contact' as const, identifiers: { emails: ['resend@example.com'] }, traits: { city: 'Казань' }, receivedAt: '2020-01-01T00:00:00.000Z' };
    const results = await hub.store.resolveBatch([older]);
    expect(results).toEqual([{ source: 'erp', sourceId: 'R-1', profileId: id, stale: true }]);
    expect((await hub.request('GET', `/v1/profiles/${id}`)).json().traits.city).toBe('Москва');
  });

  it('forgets the identifiers a re-sent record no longer has', async () => {
    await ingest([{ source: 'erp', sourceId: 'R-2', kind: 'contact', identifiers: { emails: ['old-box@example.com'], phones: ['+7 912 000-11-22'] } }]);
    const id = await profileOf('erp', 'R-2');
    await ingest([{ source: 'erp', sourceId: 'R-2', kind: 'contact', identifiers: { emails: ['new-box@example.com'] } }]);
    const byEmail = async (email: string) => (await hub.request('GET', `/v1/profiles?email=${encodeURIComponent(email)}`)).json().data.map((p: { id: string }) => p.id);
    expect(await byEmail('old-box@example.com')).toEqual([]);
    expect(await byEmail('new-box@example.com')).toEqual([id]);
    const profile = (await hub.request('GET', `/v1/profiles/${id}`)).json();
    expect(profile.identifiers).toEqual([
      { type: 'email', value: 'new-box@example.com', sources: ['erp'] },
      { type: 'externalId', value: 'erp:R-2', sources: ['erp'] },
    ]);
  });

  it('counts a sale once in totalAmount when its order, invoice and payment all arrive', async () => {
    const sale = (channel: string, id: string, amount: number, email: string) => ({ source: 'erp', sourceId: id, kind: 'interaction', identifiers: { emails: [email] }, interaction: { channel, amount, currency: 'RUB' } });
    await ingest([
      sale('order', 'o-1', 1000, 'buyer1@example.com'),
      sale('invoice', 'i-1', 1000, 'buyer1@example.com'),
      sale('payment', 'p-1', 1000, 'buyer1@example.com'),
      sale('order', 'o-2', 50, 'buyer2@example.com'),
      sale('order', 'o-3', 70.5, 'buyer2@example.com'),
    ]);
    const settled = (await hub.request('GET', `/v1/profiles/${await profileOf('erp', 'p-1')}`)).json();
    expect(settled.stats.totalAmount).toBe(1000);
    const ordered = (await hub.request('GET', `/v1/profiles/${await profileOf('erp', 'o-2')}`)).json();
    expect(ordered.stats.totalAmount).toBe(120.5);
  });

  it('keeps 1000 records when the same 1000 are sent twice', async () => {
    const records = Array.from({ length: 1000 }, (_, i) => ({
      source: 'bulk',
      sourceId: `b-${i}`,
      kind: 'contact',
      identifiers: { emails: [`bulk${i}@example.com`] },
      traits: { n: i },
    }));
    const before = await hub.store.counts();
    await ingest(records);
    await ingest(records);
    const after = await hub.store.counts();
    expect(after.records - before.records).toBe(1000);
    expect(after.profiles - before.profiles).toBe(1000);
  });

  it('pages the timeline newest first with an opaque cursor', async () => {
    const records = Array.from({ length: 7 }, (_, i) => ({
      source: 'pbx',
      sourceId: `t-${i}`,
      kind: 'interaction',
      occurredAt: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(),
      identifiers: { phones: ['+7 911 222 33 44'] },
      interaction: { channel: i % 2 ? 'call' : 'sms' },
    }));
    await ingest(records);
    const id = await profileOf('pbx', 't-0');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/profiles/${id}/timeline?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await hub.request('GET', url)).json();
      seen.push(...page.data.map((i: { sourceId: string }) => i.sourceId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['t-6', 't-5', 't-4', 't-3', 't-2', 't-1', 't-0']);
    const calls = (await hub.request('GET', `/v1/profiles/${id}/timeline?channel=call`)).json();
    expect(calls.data.map((i: { sourceId: string }) => i.sourceId)).toEqual(['t-5', 't-3', 't-1']);
  });
});
