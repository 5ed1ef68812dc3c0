import { readFileSync } from 'node:fs';
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { Connector, ConnectorContext } from '../../src/connectors/connector.js';
import type { HttpClient } from '../../src/connectors/http-client.js';
import { connectorContext, offlineWithNock } from '../support/connector-context.js';
import { onecConnector } from '../../src/connectors/erp/onec/onec.connector.js';
import { onecMapping } from '../../src/connectors/erp/onec/onec.mapping.js';
import { contactInfo, documentsStep, odataErrorDetail, readOnecCheckpoint, resourceUrl } from '../../src/connectors/erp/onec/onec.scan.js';
import { compileMapping } from '../../src/mappings/compile.js';

const ORIGIN = 'http://1c.example.local';
const URL_BASE = `${ORIGIN}/trade`;
const CATALOG = 'Catalog_Контрагенты';
const SALES = 'Document_РеализацияТоваровУслуг';

// A real answer of a 1C 8.3 OData endpoint for one Catalog_Контрагенты item (see the .source file).
const fixture = JSON.parse(readFileSync(new URL('../../../shared/fixtures/onec_catalog_kontragenty.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const item = (() => {
  const copy = { ...fixture };
  delete copy['odata.metadata'];
  return copy;
})();

const clients: HttpClient[] = [];

function setup(settings: Record<string, unknown>): { ctx: ConnectorContext<unknown>; connector: Connector } {
  return { ctx: connectorContext(onecConnector as Connector, { id: 'onec', settings }, clients), connector: onecConnector as Connector };
}

async function pollAll(connector: Connector, ctx: ConnectorContext<unknown>, start: unknown) {
  let checkpoint = start;
  const payloads: Record<string, unknown>[] = [];
  for (let pages = 1; pages <= 100; pages += 1) {
    const outcome = await connector.poll!.run(ctx, checkpoint === null ? null : connector.poll!.readCheckpoint(checkpoint));
    payloads.push(...(outcome.payloads as Record<string, unknown>[]));
    checkpoint = JSON.parse(JSON.stringify(outcome.checkpoint));
    if (!outcome.more) return { payloads, checkpoint, pages };
  }
  throw new Error('the poll did not finish in 100 pages');
}

const guid = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

/** A small 1C publication: $top/$skip, $orderby=Date asc, $filter=Date ge datetime'…' and Basic auth. */
function fakeOneC(data: { catalog: Record<string, unknown>[]; sales: Record<string, unknown>[] }, seen: { uris: string[]; auth: unknown[] }) {
  return nock(ORIGIN)
    .persist()
    .get((uri) => uri.startsWith('/trade/odata/standard.odata/'))
    .reply(function (uri) {
      seen.uris.push(uri);
      seen.auth.push(this.req.headers['authorization']);
      const url = new URL(uri, ORIGIN);
      const resource = decodeURIComponent(url.pathname.split('/').pop()!);
      const top = Number(url.searchParams.get('$top') ?? 1000);
      const skip = Number(url.searchParams.get('$skip') ?? 0);
      if (url.searchParams.get('$format') !== 'json') return [406, 'Atom only'];
      let rows = resource === CATALOG ? [...data.catalog] : resource === SALES ? [...data.sales] : null;
      if (!rows) return [404, { 'odata.error': { code: '6', message: { lang: 'ru-RU', value: `Не найден ресурс ${resource}` } } }];
      const since = /^Date ge datetime'([^']+)'$/.exec(url.searchParams.get('$filter') ?? '')?.[1];
      if (since) rows = rows.filter((r) => String(r['Date']) >= since);
      if (url.searchParams.get('$orderby') === 'Date asc') rows.sort((a, b) => String(a['Date']).localeCompare(String(b['Date'])) || String(a['Ref_Key']).localeCompare(String(b['Ref_Key'])));
      return [200, { 'odata.metadata': `${URL_BASE}/odata/standard.odata/$metadata#${resource}`, value: rows.slice(skip, skip + top) }];
    });
}

offlineWithNock(clients);

describe('the 1C mapping', () => {
  const mapping = compileMapping(onecMapping);

  it('turns the real Catalog_Контрагенты answer into a contact keyed by its Ref_Key', () => {
    expect(mapping.apply({ resource: CATALOG, counterparty: item, ...contactInfo(item) })).toEqual({
      records: [
        {
          kind: 'contact',
          source: '1c',
          sourceId: '1fa1a135-d89b-11e6-8343-40167e2531c3',
          traits: { fullName: 'Чебоксарец', company: 'Чебоксарец', code: '0000021', comment: 'коммент', markedForDeletion: false },
        },
      ],
      errors: [],
    });
  });

  it('takes emails and phones from the КонтактнаяИнформация table of a typical configuration', () => {
    const withContacts = {
      ...item,
      ИНН: '7701234567',
      КонтактнаяИнформация: [
        { LineNumber: '1', Тип: 'АдресЭлектроннойПочты', Представление: 'info@romashka.ru', АдресЭП: 'Info@Romashka.ru' },
        { LineNumber: '2', Тип: 'Телефон', Представление: '+7 (495) 123-45-67', НомерТелефона: '' },
        { LineNumber: '3', Тип: 'Адрес', Представление: 'Москва, ул. Ленина, 1' },
      ],
    };
    const [record] = mapping.apply({ resource: CATALOG, counterparty: withContacts, ...contactInfo(withContacts) }).records;
    expect(record?.identifiers).toEqual({ emails: ['Info@Romashka.ru'], phones: ['+7 (495) 123-45-67'] });
    expect(record?.traits).toMatchObject({ inn: '7701234567' });
  });

  it('turns a sales document into an order on its counterparty, dated in the base’s time zone', () => {
    const document = { Ref_Key: guid(901), DataVersion: 'AAAAAAAAB9Q=', Number: '0000-000123 ', Date: '2026-01-10T10:05:00', Posted: true, DeletionMark: false, Контрагент_Key: item['Ref_Key'], СуммаДокумента: 15000.5 };
    expect(mapping.apply({ resource: SALES, document, counterpartyKey: item['Ref_Key'], currency: 'RUB', utcOffset: '+03:00' }).records).toEqual([
      {
        kind: 'interaction',
        source: '1c',
        sourceId: guid(901),
        occurredAt: '2026-01-10T07:05:00.000Z',
        identifiers: { ids: { '1c': '1fa1a135-d89b-11e6-8343-40167e2531c3' } },
        interaction: { channel: 'order', direction: 'outbound', subject: '0000-000123', status: 'posted', amount: 15000.5, currency: 'RUB', data: document },
      },
    ]);
    expect(mapping.apply({ resource: SALES, document: { ...document, DeletionMark: true }, currency: 'RUB', utcOffset: '+03:00' }).records[0]?.interaction?.status).toBe('deleted');
  });
});

describe('the 1C scan', () => {
  it('percent-encodes Cyrillic names and never writes a space as +', () => {
    expect(resourceUrl('http://h/b/odata/standard.odata', CATALOG, [['$format', 'json'], ['$filter', "Date ge datetime'2026-01-10T10:05:00'"], ['$select', 'Ref_Key,ИНН']])).toBe(
      "http://h/b/odata/standard.odata/Catalog_%D0%9A%D0%BE%D0%BD%D1%82%D1%80%D0%B0%D0%B3%D0%B5%D0%BD%D1%82%D1%8B?$format=json&$filter=Date%20ge%20datetime'2026-01-10T10%3A05%3A00'&$select=Ref_Key%2C%D0%98%D0%9D%D0%9D",
    );
  });

  it('reads OData errors into words', () => {
    expect(odataErrorDetail({ 'odata.error': { code: '6', message: { lang: 'ru-RU', value: 'Не найден объект' } } })).toBe('Не найден объект [code 6]');
    expect(odataErrorDetail('<html>')).toBeUndefined();
  });

  it('keeps the documents taken at the cursor’s date so they are not taken twice', () => {
    const doc = (n: number, date: string) => ({ Ref_Key: guid(n), Date: date });
    const step = documentsStep({ date: '2026-01-10T10:05:00', refs: [guid(2)] }, [doc(2, '2026-01-10T10:05:00'), doc(3, '2026-01-10T10:05:00')], 3);
    expect(step).toEqual({ emit: [doc(3, '2026-01-10T10:05:00')], cursor: { date: '2026-01-10T10:05:00', refs: [guid(2), guid(3)] }, more: false });
    expect(readOnecCheckpoint({ v: 1, phase: 'catalog', skip: 0, versions: {}, documents: { [SALES]: { date: '2026-01-10 10:05', refs: [] } } })).toBeNull();
  });

  it('re-scans the catalog in pages, emits only changed DataVersions, and pages documents by Date across a shared second', async () => {
    const catalog: Record<string, unknown>[] = [
      item,
      ...Array.from({ length: 6 }, (_, i) => ({ ...item, Ref_Key: guid(i + 1), DataVersion: `AAAAAAAAAA${i}=`, Description: `Контрагент ${i + 1}`, Code: `00000${i + 1}` })),
    ];
    catalog[3] = { ...catalog[3], IsFolder: true, Description: 'Покупатели' };
    const doc = (n: number, date: string) => ({ Ref_Key: guid(100 + n), DataVersion: 'AAAAAAAAAAE=', Number: `0000-00000${n}`, Date: date, Posted: true, DeletionMark: false, Контрагент_Key: guid(1), СуммаДокумента: n * 100 });
    const sales = [doc(1, '2026-01-10T10:00:00'), doc(2, '2026-01-10T10:05:00'), doc(3, '2026-01-10T10:05:00'), doc(4, '2026-01-10T10:05:00'), doc(5, '2026-01-10T11:00:00')];
    const seen = { uris: [] as string[], auth: [] as unknown[] };
    fakeOneC({ catalog, sales }, seen);
    const { ctx, connector } = setup({ url: URL_BASE, username: 'Администратор', password: 'пароль', pageSize: 3 });

    const first = await pollAll(connector, ctx, null);
    const counterparties = first.payloads.filter((p) => 'counterparty' in p).map((p) => (p['counterparty'] as { Ref_Key: string }).Ref_Key);
    expect(counterparties).toEqual([item['Ref_Key'], guid(1), guid(2), guid(4), guid(5), guid(6)]);
    const documents = first.payloads.filter((p) => 'document' in p).map((p) => (p['document'] as { Ref_Key: string }).Ref_Key);
    expect(documents).toEqual([guid(101), guid(102), guid(103), guid(104), guid(105)]);
    expect(first.payloads.find((p) => 'document' in p)).toMatchObject({ resource: SALES, counterpartyKey: guid(1), currency: 'RUB', utcOffset: '+03:00' });
    expect(first.pages).toBe(3 + 2);
    expect(first.checkpoint).toMatchObject({ phase: 'catalog', skip: 0, documents: { [SALES]: { date: '2026-01-10T11:00:00', refs: [guid(105)] } } });

    expect(seen.auth.every((a) => a === `Basic ${Buffer.from('Администратор:пароль', 'utf8').toString('base64')}`)).toBe(true);
    expect(seen.uris[0]).toContain(`/trade/odata/standard.odata/${encodeURIComponent(CATALOG)}?$format=json&$top=3&$skip=0`);
    expect(seen.uris.some((u) => u.includes('+'))).toBe(false);

    // One counterparty edited, one added, one document in the cursor's own second, one later.
    catalog[2] = { ...catalog[2], DataVersion: 'AAAAAAAAAB2=', Description: 'Контрагент 2 (изм.)' };
    catalog.push({ ...item, Ref_Key: guid(7), DataVersion: 'AAAAAAAAAA7=' });
    sales.push(doc(6, '2026-01-10T11:00:00'), doc(7, '2026-01-11T09:00:00'));
    const second = await pollAll(connector, ctx, first.checkpoint);
    expect(second.payloads.map((p) => ((p['counterparty'] ?? p['document']) as { Ref_Key: string }).Ref_Key)).toEqual([guid(2), guid(7), guid(106), guid(107)]);

    const third = await pollAll(connector, ctx, second.checkpoint);
    expect(third.payloads).toEqual([]);
  });

  it('answers a test with the OData error of a resource that is not published', async () => {
    fakeOneC({ catalog: [], sales: [] }, { uris: [], auth: [] });
    const { ctx, connector } = setup({ url: URL_BASE, username: 'hub', password: 'secret', catalog: 'Catalog_Клиенты' });
    await expect(connector.test!(ctx)).rejects.toThrow(`1C at ${URL_BASE} has no such resource (404): Не найден ресурс Catalog_Клиенты [code 6]; is Catalog_Клиенты in the OData composition of the publication?`);
  });

  it('says the credentials were refused', async () => {
    nock(ORIGIN).get(/.*/).reply(401, 'Unauthorized', { 'content-type': 'text/plain' });
    const { ctx, connector } = setup({ url: URL_BASE, username: 'hub', password: 'wrong' });
    await expect(connector.test!(ctx)).rejects.toThrow(`1C at ${URL_BASE} rejected the credentials (401)`);
  });
});
