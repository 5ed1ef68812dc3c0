import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STORES } from '../support/env.js';
import { startTestHub, SCOPED_KEYS, type TestHub } from '../support/hub.js';
import { DEFAULT_MATCHING } from '../../src/core/identity/match/defaults.js';

type Pair = { id: string; profileIds: [string, string]; score: number; reasons: string[]; status: string };

describe.each(STORES)('identity matching on %s', (store) => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ store, config: { identity: { emailCanonicalization: ['plusTags', 'gmailDots'] } } });
  });
  afterAll(async () => hub?.close());

  async function ingest(records: unknown[]) {
    const res = await hub.request('POST', '/v1/records', { body: { records } });
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
  }
  async function profileOf(source: string, sourceId: string): Promise<string> {
    const res = await hub.request('GET', `/v1/records/${source}/${encodeURIComponent(sourceId)}`);
    expect(res.json().status, res.body).toBe('processed');
    return res.json().profileId as string;
  }
  async function openPairs(): Promise<Pair[]> {
    const res = await hub.request('GET', '/v1/duplicates?status=open&limit=1000');
    expect(res.statusCode, res.body).toBe(200);
    return res.json().data as Pair[];
  }
  const pairOf = (pairs: Pair[], a: string, b: string) => pairs.find((p) => p.profileIds.includes(a) && p.profileIds.includes(b));

  it('merges "Petrov Ivan" from the ERP with "Иван Петров" from a web form by name and birth date, and logs the score', async () => {
    await ingest([
      { source: 'erp', sourceId: 'm1', kind: 'contact', traits: { firstName: 'Petrov', lastName: 'Ivan', birthDate: '1980-02-03', city: 'Moscow' } },
      { source: 'site', sourceId: 'm1', kind: 'contact', identifiers: { emails: ['i.van.petrov+shop@gmail.com'] }, traits: { firstName: 'Иван', lastName: 'Петров', birthDate: '03.02.1980' } },
      { source: 'mail', sourceId: 'm1', kind: 'contact', identifiers: { emails: ['ivanpetrov@gmail.com'] } },
    ]);
    const ids = await Promise.all([profileOf('erp', 'm1'), profileOf('site', 'm1'), profileOf('mail', 'm1')]);
    expect(new Set(ids).size).toBe(1);
    const history = (await hub.request('GET', `/v1/profiles/${ids[0]}/history`)).json().data as { type: string; detail: { reason: string; score: number | null } }[];
    // One batch: the records met in memory, so no stored profile merged; ingest them apart to see one.
    expect(history).toEqual([]);

    await ingest([{ source: 'erp', sourceId: 'm2', kind: 'contact', traits: { firstName: 'Мария', lastName: 'Сидорова', birthDate: '1975-12-01', city: 'Казань' } }]);
    await ingest([{ source: 'site', sourceId: 'm2', kind: 'contact', traits: { firstName: 'Maria', lastName: 'Sidorova', birthDate: '01/12/1975', city: 'Kazan' } }]);
    const maria = await profileOf('erp', 'm2');
    expect(await profileOf('site', 'm2')).toBe(maria);
    const records = (await hub.request('GET', `/v1/profiles/${maria}`)).json().records as { source: string; linkReason: string | null; linkScore: number | null }[];
    const linked = records.find((r) => r.source === 'site');
    expect(linked?.linkReason).toMatch(/^match .*lastName exact.*birthDate exact/);
    expect(linked?.linkScore).toBeGreaterThanOrEqual(8);
  });

  it('merges two stored profiles that a new record bridges, and logs the merge with the rule and score', async () => {
    await ingest([{ source: 'erp', sourceId: 'br1', kind: 'contact', traits: { firstName: 'Наталья', lastName: 'Павлова', birthDate: '1988-07-15' } }]);
    await ingest([{ source: 'mail', sourceId: 'br2', kind: 'contact', identifiers: { emails: ['npavlova@inbox.ru'] } }]);
    const [a, b] = [await profileOf('erp', 'br1'), await profileOf('mail', 'br2')];
    expect(a).not.toBe(b);
    await ingest([{ source: 'site', sourceId: 'br3', kind: 'contact', identifiers: { emails: ['npavlova@inbox.ru'] }, traits: { firstName: 'Natalya', lastName: 'Pavlova', birthDate: '15.07.1988' } }]);
    expect(await profileOf('mail', 'br2')).toBe(a);
    const history = (await hub.request('GET', `/v1/profiles/${a}/history`)).json().data as { type: string; actor: string; detail: { reason: string; score: number; mergedId: string } }[];
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ type: 'merge', actor: 'pipeline', detail: { mergedId: b } });
    expect(history[0]?.detail.reason).toMatch(/shared email/);
    expect(history[0]?.detail.reason).toMatch(/match .*birthDate exact/);
    expect(history[0]?.detail.score).toBeGreaterThanOrEqual(8);
  });

  it('does not merge namesakes without an identifying trait, proposes them for review, and a dismissed pair stays apart', async () => {
    const namesake = (source: string, id: string, email: string) => ({
      source,
      sourceId: id,
      kind: 'contact',
      identifiers: { emails: [email] },
      traits: { firstName: 'Сергей', lastName: 'Кузнецов', city: 'Самара', company: 'ООО «Вектор»' },
    });
    await ingest([namesake('crm', 'n1', 's.kuznetsov@vector.ru')]);
    await ingest([namesake('erp', 'n2', 'kuznetsov1987@mail.ru')]);
    const [a, b] = [await profileOf('crm', 'n1'), await profileOf('erp', 'n2')];
    expect(a).not.toBe(b);
    const pair = pairOf(await openPairs(), a, b);
    expect(pair).toBeDefined();
    expect(pair?.reasons).toEqual(expect.arrayContaining(['firstName exact', 'lastName exact', 'city exact']));

    const noWrite = await hub.request('POST', `/v1/duplicates/${pair?.id}/dismiss`, { key: SCOPED_KEYS.read });
    expect(noWrite.statusCode).toBe(403);
    const dismissed = await hub.request('POST', `/v1/duplicates/${pair?.id}/dismiss`, { key: SCOPED_KEYS.write });
    expect(dismissed.statusCode, dismissed.body).toBe(200);
    expect(dismissed.json()).toMatchObject({ status: 'dismissed', decidedBy: 'key-write' });
    expect((await hub.request('POST', `/v1/duplicates/${pair?.id}/dismiss`)).statusCode).toBe(409);

    // The same two again, now with a birth date each: still two people, and not proposed again.
    await ingest([{ ...namesake('crm', 'n1', 's.kuznetsov@vector.ru'), traits: { firstName: 'Сергей', lastName: 'Кузнецов', birthDate: '1987-04-04', city: 'Самара' } }]);
    await ingest([{ ...namesake('erp', 'n2', 'kuznetsov1987@mail.ru'), traits: { firstName: 'Sergey', lastName: 'Kuznetsov', birthDate: '1987-04-04', city: 'Samara' } }]);
    expect(await profileOf('crm', 'n1')).toBe(a);
    expect(await profileOf('erp', 'n2')).toBe(b);
    expect(pairOf(await openPairs(), a, b)).toBeUndefined();
  });

  it('merges a review pair on request: the older profile remains and the other redirects', async () => {
    const rec = (source: string, email: string) => ({ source, sourceId: 'r1', kind: 'contact', identifiers: { emails: [email] }, traits: { firstName: 'Olga', lastName: 'Volkova', city: 'Perm', jobTitle: 'юрист' } });
    await ingest([rec('crm', 'olga@one.ru')]);
    await ingest([rec('erp', 'volkova@two.ru')]);
    const [older, newer] = [await profileOf('crm', 'r1'), await profileOf('erp', 'r1')];
    const pair = pairOf(await openPairs(), older, newer);
    expect(pair).toBeDefined();
    const merged = await hub.request('POST', `/v1/duplicates/${pair?.id}/merge`);
    expect(merged.statusCode, merged.body).toBe(200);
    expect(merged.json()).toMatchObject({ status: 'merged', profileId: older });
    const redirect = await hub.request('GET', `/v1/profiles/${newer}`);
    expect(redirect.statusCode).toBe(308);
    expect(redirect.json()).toEqual({ mergedInto: older });
    expect((await hub.request('GET', `/v1/profiles/${older}`)).json().records).toHaveLength(2);
    const history = (await hub.request('GET', `/v1/profiles/${older}/history`)).json().data;
    expect(history[0]).toMatchObject({ type: 'merge', actor: 'HUB_API_KEY', detail: { survivorId: older, mergedId: newer } });
  });

  it('marks an open review pair outdated when a later record merges its two profiles', async () => {
    const rec = (source: string, email: string) => ({ source, sourceId: 'o1', kind: 'contact', identifiers: { emails: [email] }, traits: { firstName: 'Пётр', lastName: 'Соколов', city: 'Тверь', jobTitle: 'инженер' } });
    await ingest([rec('crm', 'sokolov@one.ru')]);
    await ingest([rec('erp', 'petr.sokolov@two.ru')]);
    const [older, newer] = [await profileOf('crm', 'o1'), await profileOf('erp', 'o1')];
    const pair = pairOf(await openPairs(), older, newer);
    expect(pair).toBeDefined();
    await ingest([{ source: 'mail', sourceId: 'o1', kind: 'contact', identifiers: { emails: ['sokolov@one.ru', 'petr.sokolov@two.ru'] } }]);
    expect(await profileOf('erp', 'o1')).toBe(older);
    expect(pairOf(await openPairs(), older, newer)).toBeUndefined();
    const outdated = (await hub.request('GET', '/v1/duplicates?status=outdated&limit=1000')).json().data as Pair[];
    expect(outdated.find((p) => p.id === pair?.id)).toMatchObject({ status: 'outdated' });
  });

  it('splits records off into a new profile and keeps them apart when a later record links both sides', async () => {
    await ingest([
      { source: 'shop', sourceId: 's1', kind: 'contact', identifiers: { phones: ['+7 912 555-00-01'] }, traits: { firstName: 'Дмитрий', lastName: 'Орлов' } },
      { source: 'shop', sourceId: 's2', kind: 'contact', identifiers: { phones: ['+7 912 555-00-01'], emails: ['elena.orlova@mail.ru'] }, traits: { firstName: 'Дмитрий' } },
      { source: 'mail', sourceId: 's3', kind: 'interaction', identifiers: { emails: ['elena.orlova@mail.ru'] }, interaction: { channel: 'email', subject: 'Счёт' } },
    ]);
    const family = await profileOf('shop', 's1');
    expect(await profileOf('mail', 's3')).toBe(family);

    const bad = await hub.request('POST', `/v1/profiles/${family}/split`, { body: { records: [{ source: 'shop', sourceId: 'nope' }] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].path).toBe('/body/records/0');
    const all = await hub.request('POST', `/v1/profiles/${family}/split`, {
      body: { records: ['s1', 's2'].map((id) => ({ source: 'shop', sourceId: id })).concat([{ source: 'mail', sourceId: 's3' }]) },
    });
    expect(all.statusCode).toBe(409);

    const split = await hub.request('POST', `/v1/profiles/${family}/split`, { body: { records: [{ source: 'mail', sourceId: 's3' }] } });
    expect(split.statusCode, split.body).toBe(200);
    const { newProfileId } = split.json() as { newProfileId: string };
    expect(await profileOf('mail', 's3')).toBe(newProfileId);

    // A new record carrying the phone of one side and the email of the other: it may join one, never both.
    await ingest([{ source: 'crm', sourceId: 's4', kind: 'contact', identifiers: { phones: ['89125550001'], emails: ['elena.orlova@mail.ru'] } }]);
    expect(await profileOf('shop', 's1')).toBe(family);
    expect(await profileOf('mail', 's3')).toBe(newProfileId);
    expect([family, newProfileId]).toContain(await profileOf('crm', 's4'));
    const history = (await hub.request('GET', `/v1/profiles/${newProfileId}/history`)).json().data;
    expect(history[0]).toMatchObject({ type: 'split', detail: { profileId: family, newProfileId } });
  });

  it('never links on a blocklisted value, and stops linking on a phone shared by more than three people', async () => {
    await ingest([
      { source: 'web', sourceId: 'b1', kind: 'contact', identifiers: { emails: ['TEST@test.com'] }, traits: { firstName: 'Анна' } },
      { source: 'web', sourceId: 'b2', kind: 'contact', identifiers: { emails: ['test@test.com'] }, traits: { firstName: 'Борис' } },
    ]);
    expect(await profileOf('web', 'b1')).not.toBe(await profileOf('web', 'b2'));

    const people = [
      ['Алексей', 'Смирнов', '1970-01-01'],
      ['Татьяна', 'Лебедева', '1981-05-12'],
      ['Павел', 'Егоров', '1990-09-30'],
      ['Ирина', 'Козлова', '1966-03-08'],
      ['Николай', 'Степанов', '1999-11-11'],
    ];
    for (const [i, [first, last, born]] of people.entries()) {
      await ingest([{ source: 'pbx', sourceId: `sw${i}`, kind: 'contact', identifiers: { phones: ['+7 (495) 700-00-01'] }, traits: { firstName: first, lastName: last, birthDate: born } }]);
    }
    const ids = await Promise.all(people.map((_, i) => profileOf('pbx', `sw${i}`)));
    expect(new Set(ids).size).toBe(5);
    const shared = (await hub.request('GET', '/v1/duplicates/shared-identifiers')).json().data;
    expect(shared).toEqual([expect.objectContaining({ type: 'phone', value: '+74957000001', profiles: 4 })]);
  });
  it('stops filing under a blocking key once it is too common to be read, and still matches through rarer keys', async () => {
    // 25 people born the same day in the same town (one dc: key), sent in batches of 5.
    const names = ['Алексей', 'Борис', 'Вадим', 'Глеб', 'Денис'];
    const families = ['Орлов', 'Зайцев', 'Белов', 'Гусев', 'Жуков'];
    for (let b = 0; b < 5; b += 1) {
      await ingest(families.map((lastName, i) => ({ source: 'erp', sourceId: `dc-${b}-${i}`, kind: 'contact', traits: { firstName: names[b], lastName, birthDate: '1990-01-01', city: 'Тверь' } })));
    }
    const filed = await hub.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM match_keys WHERE key = 'dc:1990-01-01:tver'`);
    expect(filed.rows[0]?.n).toBe(DEFAULT_MATCHING.candidatesPerKey + 1);
    // The last person of the crowd is still found by name and birth date.
    await ingest([{ source: 'site', sourceId: 'dc-late', kind: 'contact', traits: { firstName: 'Denis', lastName: 'Zhukov', birthDate: '01.01.1990', city: 'Tver' } }]);
    expect(await profileOf('site', 'dc-late')).toBe(await profileOf('erp', 'dc-4-4'));
  });
});
