import { readFileSync } from 'node:fs';
import nock from 'nock';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Connector, ConnectorContext } from '../../src/connectors/connector.js';
import type { HttpClient } from '../../src/connectors/http-client.js';
import { connectorContext, offlineWithNock } from '../support/connector-context.js';
import { resolveConnectorConfigs } from '../../src/connectors/runtime.js';
import { restPollerConnector } from '../../src/connectors/rest-poller/rest-poller.connector.js';
import { CONNECTOR_TYPES } from '../../src/connectors/registry.js';
import { linkNext, readRestCheckpoint, selectItems } from '../../src/connectors/rest-poller/rest-poller.paging.js';
import { parseConfig } from '../../src/core/config/load-config.js';
import type { MappingDocument } from '../../src/mappings/mapping.schema.js';

const API = 'https://api.example.com';
const mapping: MappingDocument = { name: 'items', version: 1, records: [{ kind: 'contact', source: { const: 'shop' }, sourceId: 'id', identifiers: { emails: ['email'] } }] };
const registry = new Map([['rest-poller', restPollerConnector as Connector]]);
const clients: HttpClient[] = [];

function setup(settings: Record<string, unknown>): { ctx: ConnectorContext<unknown>; connector: Connector } {
  return { ctx: connectorContext(restPollerConnector as Connector, { id: 'rest', settings, mapping }, clients), connector: restPollerConnector as Connector };
}

async function pollAll(connector: Connector, ctx: ConnectorContext<unknown>, start: unknown) {
  let checkpoint = start;
  const payloads: { id: number }[] = [];
  for (let pages = 1; pages <= 50; pages += 1) {
    const outcome = await connector.poll!.run(ctx, checkpoint === null ? null : connector.poll!.readCheckpoint(checkpoint));
    payloads.push(...(outcome.payloads as { id: number }[]));
    checkpoint = JSON.parse(JSON.stringify(outcome.checkpoint));
    if (!outcome.more) return { ids: payloads.map((p) => p.id), checkpoint, pages };
  }
  throw new Error('the poll did not finish in 50 pages');
}

const items = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => ({ id: from + i, email: `u${from + i}@example.com`, updated_at: `2026-01-10T10:00:${String(from + i).padStart(2, '0')}Z` }));

offlineWithNock(clients);

describe('the generic REST poller configuration', () => {
  it('is refused at start without a mapping, naming the path', () => {
    const config = parseConfig({ connectors: [{ id: 'crm', type: 'rest-poller', settings: { url: API, auth: { type: 'none' } } }] });
    expect(() => resolveConnectorConfigs(config.connectors, registry)).toThrow('/connectors/0/mapping: rest-poller needs a mapping');
  });

  it('is refused at start with an auth type and no secret', () => {
    expect(() => resolveConnectorConfigs([{ id: 'crm', type: 'rest-poller', enabled: true, settings: { url: API, auth: { type: 'bearer' } }, mapping }], registry)).toThrow(/\/connectors\/0\/settings\/auth/);
  });

  it('fills in defaults: GET, no pagination, the answer is the array', () => {
    const [resolved] = resolveConnectorConfigs([{ id: 'crm', type: 'rest-poller', enabled: true, settings: { url: API, auth: { type: 'none' } }, mapping }], registry);
    expect(resolved!.settings).toMatchObject({ method: 'GET', pagination: { style: 'none' }, itemsPath: '', headers: {}, query: {}, paramsIn: 'query' });
  });
});

describe('config/connectors.pollers.example.yaml', () => {
  it('is a config the hub starts with, for every connector in it', () => {
    const env = { ODOO_API_KEY: 'k'.repeat(40), ONEC_PASSWORD: 'secret', SHOP_API_TOKEN: 'token' };
    const config = parseConfig(parseYaml(readFileSync('config/connectors.pollers.example.yaml', 'utf8')), env);
    expect(resolveConnectorConfigs(config.connectors, CONNECTOR_TYPES).map((c) => c.connector.type)).toEqual(['odoo', '1c-odata', 'rest-poller']);
  });
});

describe('RFC 8288 Link headers', () => {
  it('finds rel="next" among several links, relative or quoted or not', () => {
    const base = 'https://api.example.com/v1/items?page=1';
    expect(linkNext('<https://api.example.com/v1/items?page=2>; rel="next", <https://api.example.com/v1/items?page=9>; rel="last"', base)).toBe('https://api.example.com/v1/items?page=2');
    expect(linkNext('</v1/items?page=1>; rel="prev first", <?page=3>; title="a; b"; rel=next', base)).toBe('https://api.example.com/v1/items?page=3');
    expect(linkNext('<https://api.example.com/v1/items?page=9>; rel="last"', base)).toBeUndefined();
    expect(linkNext(undefined, base)).toBeUndefined();
  });
});

describe('the incremental cursor', () => {
  it('takes an item at exactly the last value only when its id is new', () => {
    const inc = { cursorField: 'updated_at', cursorParam: 'since', type: 'string' as const, idField: 'id' };
    const checkpoint = { v: 1 as const, since: '2026-01-10T10:00:05Z', sinceIds: ['5'], pass: null };
    const result = selectItems(inc, checkpoint, [...items(4, 6), { ...items(5, 5)[0], id: 50 }]);
    expect(result).toEqual({ emit: [items(6, 6)[0], { ...items(5, 5)[0], id: 50 }], max: '2026-01-10T10:00:06Z', maxIds: ['6'] });
    expect(selectItems(inc, checkpoint, [{ id: 1 }])).toEqual({ problem: 'item 0 has no string value at updated_at' });
    expect(readRestCheckpoint({ ...checkpoint, pass: { page: 2, max: null, maxIds: [] } })).not.toBeNull();
    expect(readRestCheckpoint({ ...checkpoint, since: {} })).toBeNull();
  });
});

describe('polling a REST API configured by settings', () => {
  it('pages by page number and size, with a bearer token, and the incremental cursor moves only at the end of a pass', async () => {
    const data = items(1, 7);
    const scope = nock(API, { reqheaders: { authorization: 'Bearer t0ken' } })
      .persist()
      .get('/v1/customers')
      .query(true)
      .reply((uri) => {
        const q = new URL(uri, API).searchParams;
        const since = q.get('updated_since');
        const rows = data.filter((d) => !since || d.updated_at >= since);
        const page = Number(q.get('page'));
        const size = Number(q.get('limit'));
        return [200, { data: { items: rows.slice((page - 1) * size, page * size) } }];
      });
    const { ctx, connector } = setup({
      url: `${API}/v1/customers`,
      auth: { type: 'bearer', token: 't0ken' },
      itemsPath: 'data.items',
      pagination: { style: 'page', sizeParam: 'limit', size: 3 },
      incremental: { cursorField: 'updated_at', cursorParam: 'updated_since' },
    });
    const first = await pollAll(connector, ctx, null);
    expect(first).toMatchObject({ ids: [1, 2, 3, 4, 5, 6, 7], pages: 3, checkpoint: { since: '2026-01-10T10:00:07Z', sinceIds: ['7'], pass: null } });
    data.push(...items(8, 8));
    data[1] = { ...data[1]!, updated_at: '2026-01-10T10:00:09Z' };
    expect((await pollAll(connector, ctx, first.checkpoint)).ids).toEqual([2, 8]);
    scope.persist(false);
  });

  it('pages by offset, in a POST body, with basic auth', async () => {
    const data = items(1, 5);
    const bodies: Record<string, unknown>[] = [];
    nock(API, { reqheaders: { authorization: `Basic ${Buffer.from('hub:pa55', 'utf8').toString('base64')}` } })
      .persist()
      .post('/search')
      .reply((_uri, body) => {
        const b = body as { offset: number; limit: number; filter: string };
        bodies.push(b);
        return [200, data.slice(b.offset, b.offset + b.limit)];
      });
    const { ctx, connector } = setup({
      url: `${API}/search`,
      method: 'POST',
      body: { filter: 'customers' },
      paramsIn: 'body',
      auth: { type: 'basic', username: 'hub', password: 'pa55' },
      pagination: { style: 'offset', limit: 2 },
    });
    expect((await pollAll(connector, ctx, null)).ids).toEqual([1, 2, 3, 4, 5]);
    expect(bodies).toEqual([0, 2, 4].map((offset) => ({ filter: 'customers', offset, limit: 2 })));
  });

  it('follows a next cursor from the answer, with a key in a header', async () => {
    const pages: Record<string, { items: unknown[]; next: string | null }> = { '': { items: items(1, 2), next: 'c2' }, c2: { items: items(3, 4), next: 'c3' }, c3: { items: items(5, 5), next: null } };
    nock(API, { reqheaders: { 'x-api-key': 'k3y' } })
      .persist()
      .get('/events')
      .query(true)
      .reply((uri) => [200, { results: pages[new URL(uri, API).searchParams.get('after') ?? '']!.items, meta: { next: pages[new URL(uri, API).searchParams.get('after') ?? '']!.next } }]);
    const { ctx, connector } = setup({
      url: `${API}/events`,
      auth: { type: 'header', name: 'X-Api-Key', value: 'k3y' },
      itemsPath: 'results',
      pagination: { style: 'cursor', nextCursorPath: 'meta.next', cursorParam: 'after' },
    });
    expect(await pollAll(connector, ctx, null)).toMatchObject({ ids: [1, 2, 3, 4, 5], pages: 3 });
  });

  it('follows Link rel="next" on the same origin and refuses to send credentials elsewhere', async () => {
    nock(API)
      .get('/people')
      .reply(200, items(1, 2), { link: `<${API}/people?page=2>; rel="next"` })
      .get('/people')
      .query({ page: '2' })
      .reply(200, items(3, 3), { link: `<${API}/people?page=1>; rel="first"` });
    const { ctx, connector } = setup({ url: `${API}/people`, auth: { type: 'none' }, pagination: { style: 'link' } });
    expect((await pollAll(connector, ctx, null)).ids).toEqual([1, 2, 3]);

    nock(API).get('/people').reply(200, items(1, 2), { link: '<https://evil.example.net/people?page=2>; rel="next"' });
    await expect(connector.poll!.run(ctx, null)).rejects.toThrow(/is not on https:\/\/api\.example\.com; not following it/);
  });

  it('fails clearly when the items are not where the configuration says', async () => {
    nock(API).get('/v1/customers').reply(200, { data: { rows: [] } });
    nock(API).get('/v1/customers').reply(200, '<html><body>Service temporarily unavailable</body></html>', { 'content-type': 'text/html' });
    const { ctx, connector } = setup({ url: `${API}/v1/customers`, auth: { type: 'none' }, itemsPath: 'data.items' });
    await expect(connector.poll!.run(ctx, null)).rejects.toThrow(`the API at ${API}/v1/customers answered with something that is not a JSON array at "data.items": got undefined`);
    await expect(connector.poll!.run(ctx, null)).rejects.toThrow('answered with something that is not JSON: got text "<html><body>Service temporarily unavailable</body></html>"');
  });
});
