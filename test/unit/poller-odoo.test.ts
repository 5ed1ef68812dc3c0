import { readFileSync } from 'node:fs';
import nock from 'nock';
import { describe, expect, it } from 'vitest';
import type { Connector, ConnectorContext } from '../../src/connectors/connector.js';
import type { HttpClient } from '../../src/connectors/http-client.js';
import { connectorContext, offlineWithNock } from '../support/connector-context.js';
import { odooConnector } from '../../src/connectors/erp/odoo/odoo.connector.js';
import { afterLater, nextSecond, readOdooCheckpoint, type OdooCheckpoint, type OdooRow } from '../../src/connectors/erp/odoo/odoo.cursor.js';
import { odooMapping } from '../../src/connectors/erp/odoo/odoo.mapping.js';
import { compileMapping } from '../../src/mappings/compile.js';

const BASE = 'https://odoo.example.com';
const KEY = '6578616d706c65206a736f6e20617069206b6579';

// The official JSON-2 example (odoo/documentation external_api.rst): request headers and body, response.
const fixture = readFileSync(new URL('../../../shared/fixtures/odoo_json2_search_read.http', import.meta.url), 'utf8');
const [requestPart = '', responsePart = ''] = fixture.split('# --- response ---');
const fixtureRequestBody = JSON.parse(requestPart.slice(requestPart.indexOf('\n{'), requestPart.lastIndexOf('}') + 1)) as Record<string, unknown>;
const fixtureResponse = JSON.parse(responsePart.slice(responsePart.indexOf('['), responsePart.indexOf(']') + 1)) as Record<string, unknown>[];
const fixture401 = JSON.parse(/# \{"name".*\}/.exec(fixture)![0].slice(2)) as Record<string, unknown>;

type Settings = Record<string, unknown>;
const clients: HttpClient[] = [];

/** Settings as the hub would hold them (validated, defaults filled in) and a context like the runtime's. */
function setup(settings: Settings): { ctx: ConnectorContext<unknown>; connector: Connector } {
  return { ctx: connectorContext(odooConnector as Connector, { id: 'odoo', settings }, clients), connector: odooConnector as Connector };
}

/** Polls like the runtime does: page after page while `more`, the checkpoint carried along. */
async function pollAll(connector: Connector, ctx: ConnectorContext<unknown>, start: unknown): Promise<{ payloads: Record<string, unknown>[]; checkpoint: unknown; pages: number }> {
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

// ---- A small Odoo: stores write_date with microseconds, as PostgreSQL does, and answers it cut to the second.

type Stored = { id: number; model: string; at: string; fields: Record<string, unknown> };

function micros(ts: string): number {
  const [second = '', fraction = ''] = ts.split('.');
  return Date.parse(`${second.replace(' ', 'T')}Z`) * 1000 + Number(fraction.padEnd(6, '0'));
}

function matches(term: unknown[], row: Stored): boolean {
  const [field, op, value] = term as [string, string, unknown];
  const left = field === 'write_date' ? micros(row.at) : field === 'id' ? row.id : row.fields[field];
  const right = field === 'write_date' ? micros(String(value)) : value;
  switch (op) {
    case '>':
      return (left as number) > (right as number);
    case '>=':
      return (left as number) >= (right as number);
    case '<':
      return (left as number) < (right as number);
    case '=':
      return left === right;
    case 'in':
      return (right as unknown[]).includes(left);
    default:
      throw new Error(`the fake Odoo does not know ${op}`);
  }
}

/** Odoo domains are Polish notation with an implicit AND between top-level expressions. */
function evaluate(domain: unknown[], row: Stored): boolean {
  const walk = (i: number): [boolean, number] => {
    const item = domain[i];
    if (item === '|' || item === '&') {
      const [a, j] = walk(i + 1);
      const [b, k] = walk(j);
      return [item === '|' ? a || b : a && b, k];
    }
    return [matches(item as unknown[], row), i + 1];
  };
  let ok = true;
  for (let i = 0; i < domain.length; ) {
    const [v, next] = walk(i);
    ok &&= v;
    i = next;
  }
  return ok;
}

function fakeOdoo(rows: Stored[], seen: { requests: Record<string, unknown>[]; headers: Record<string, unknown>[] }) {
  return nock(BASE)
    .persist()
    .post(/^\/json\/2\/(res\.partner|account\.move)\/search_read$/)
    .reply(function (uri, body) {
      const model = /\/json\/2\/([^/]+)\//.exec(uri)![1]!;
      const req = body as { domain: unknown[]; fields: string[]; order: string; limit: number };
      seen.requests.push({ model, ...req });
      seen.headers.push(this.req.headers);
      const found = rows.filter((r) => r.model === model && evaluate(req.domain, r));
      found.sort((a, b) => (req.order === 'id asc' ? a.id - b.id : micros(a.at) - micros(b.at) || a.id - b.id));
      const page = found.slice(0, req.limit).map((r) => {
        const all: Record<string, unknown> = { ...r.fields, id: r.id, write_date: r.at.slice(0, 19) };
        return Object.fromEntries(req.fields.filter((f) => f in all).map((f) => [f, all[f]]));
      });
      return [200, page, { 'content-type': 'application/json; charset=utf-8' }];
    });
}

offlineWithNock(clients);

describe('the Odoo mapping', () => {
  const mapping = compileMapping(odooMapping);

  it('turns the official search_read answer into a contact', () => {
    expect(mapping.apply({ model: 'res.partner', partner: fixtureResponse[0] })).toEqual({
      records: [{ kind: 'contact', source: 'odoo', sourceId: '25', traits: { fullName: 'Deco Addict' } }],
      errors: [],
    });
  });

  it('turns a full partner row into a contact, leaving out what Odoo sends as false', () => {
    const partner = {
      id: 7,
      name: 'Azure Interior',
      email: 'azure.Interior24@example.com',
      phone: '(870)-931-0505',
      vat: false,
      ref: false,
      is_company: true,
      commercial_company_name: 'Azure Interior',
      street: '4557 De Silva St',
      city: 'Fremont',
      zip: '94538',
      country_id: [233, 'United States'],
      lang: 'en_US',
      active: true,
      write_date: '2026-01-10 09:00:00',
    };
    expect(mapping.apply({ model: 'res.partner', partner })).toEqual({
      records: [
        {
          kind: 'contact',
          source: 'odoo',
          sourceId: '7',
          occurredAt: '2026-01-10T09:00:00.000Z',
          identifiers: { emails: ['azure.Interior24@example.com'], phones: ['(870)-931-0505'] },
          traits: {
            fullName: 'Azure Interior',
            company: 'Azure Interior',
            isCompany: true,
            address: '4557 De Silva St',
            city: 'Fremont',
            postcode: '94538',
            country: 'United States',
            language: 'en_US',
            archived: false,
          },
        },
      ],
      errors: [],
    });
  });

  it('turns a customer invoice into an invoice on its partner’s profile', () => {
    const move = {
      id: 17,
      name: 'INV/2026/00017',
      move_type: 'out_invoice',
      state: 'posted',
      payment_state: 'not_paid',
      partner_id: [7, 'Azure Interior'],
      invoice_date: '2026-01-09',
      invoice_date_due: false,
      amount_total: 1250.5,
      amount_residual: 1250.5,
      currency_id: [1, 'EUR'],
      ref: false,
      invoice_origin: false,
      write_date: '2026-01-10 09:00:00',
    };
    const { records, errors } = mapping.apply({ model: 'account.move', move });
    expect(errors).toEqual([]);
    expect(records).toEqual([
      {
        kind: 'interaction',
        source: 'odoo',
        sourceId: 'account.move-17',
        occurredAt: '2026-01-09T00:00:00.000Z',
        identifiers: { ids: { odoo: '7' } },
        interaction: { channel: 'invoice', direction: 'outbound', subject: 'INV/2026/00017', status: 'posted', amount: 1250.5, currency: 'EUR', data: move },
      },
    ]);
  });
});

describe('the Odoo cursor', () => {
  it('reads only checkpoints it wrote', () => {
    const good: OdooCheckpoint = { v: 1, model: 'account.move', cursors: { 'res.partner': { writeDate: '2026-01-10 09:00:00', id: 4 } } };
    expect(readOdooCheckpoint(good)).toEqual(good);
    for (const bad of [null, {}, { ...good, v: 2 }, { ...good, model: 'sale.order' }, { ...good, cursors: { 'res.partner': { writeDate: '2026-01-10T09:00:00Z', id: 4 } } }]) {
      expect(readOdooCheckpoint(bad)).toBeNull();
    }
  });

  it('steps to the next second across minute, day and year ends', () => {
    expect(nextSecond('2026-01-10 09:00:59')).toBe('2026-01-10 09:01:00');
    expect(nextSecond('2025-12-31 23:59:59')).toBe('2026-01-01 00:00:00');
  });

  it('takes no part of a second a full page ends in, and comes back for it whole', () => {
    const rows = (n: number, at: string): OdooRow[] => Array.from({ length: n }, (_, i) => ({ id: i + 1, write_date: at }));
    const full = [...rows(2, '2026-01-10 09:00:00'), ...rows(3, '2026-01-10 09:00:01')];
    expect(afterLater(undefined, full, 5)).toEqual({ rows: full.slice(0, 2), cursor: { writeDate: '2026-01-10 09:00:01', id: 0 }, more: true });
    expect(afterLater(undefined, full, 6)).toEqual({ rows: full, cursor: { writeDate: '2026-01-10 09:00:01', id: 3 }, more: false });
    expect(afterLater(undefined, rows(5, '2026-01-10 09:00:00'), 5)).toEqual({ rows: [], cursor: { writeDate: '2026-01-10 09:00:00', id: 0 }, more: true });
  });
});

describe('polling Odoo through JSON-2', () => {
  it('pages through a mass write, same-second rows out of id order and late rows, taking every record exactly once', async () => {
    const rows: Stored[] = [];
    // One transaction wrote 450 partners: one timestamp for all, as Odoo's cr.now() gives.
    for (let id = 1; id <= 450; id += 1) rows.push({ id, model: 'res.partner', at: '2026-01-10 09:00:00.250000', fields: { name: `P${id}`, email: `p${id}@example.com` } });
    // Another transaction in the same second, earlier by microseconds, with a higher id.
    rows.push({ id: 500, model: 'res.partner', at: '2026-01-10 09:00:00.100000', fields: { name: 'Early', email: false } });
    // A second where time order and id order disagree.
    for (let id = 451; id <= 460; id += 1) rows.push({ id, model: 'res.partner', at: `2026-01-10 09:00:05.${String(900000 - (id - 451) * 50000).padStart(6, '0')}`, fields: { name: `Q${id}` } });
    rows.push({ id: 461, model: 'res.partner', at: '2026-01-10 09:01:00.000000', fields: { name: 'Last' } });
    rows.push({ id: 9, model: 'account.move', at: '2026-01-10 09:02:00.000000', fields: { name: 'INV/9', move_type: 'out_invoice', partner_id: [461, 'Last'] } });
    rows.push({ id: 10, model: 'account.move', at: '2026-01-10 09:02:00.000000', fields: { name: 'BILL/10', move_type: 'in_invoice', partner_id: [461, 'Last'] } });
    const seen = { requests: [] as Record<string, unknown>[], headers: [] as Record<string, unknown>[] };
    fakeOdoo(rows, seen);
    const { ctx, connector } = setup({ url: BASE, apiKey: KEY, database: 'mycompany', pageSize: 200 });

    const first = await pollAll(connector, ctx, null);
    const partnerIds = first.payloads.filter((p) => p['model'] === 'res.partner').map((p) => (p['partner'] as { id: number }).id);
    expect(partnerIds).toHaveLength(462);
    expect(new Set(partnerIds).size).toBe(462);
    expect(first.payloads.filter((p) => p['model'] === 'account.move').map((p) => (p['move'] as { id: number }).id)).toEqual([9]);
    expect(first.checkpoint).toEqual({ v: 1, model: 'res.partner', cursors: { 'res.partner': { writeDate: '2026-01-10 09:01:00', id: 461 }, 'account.move': { writeDate: '2026-01-10 09:02:00', id: 9 } } });

    // Every call as the JSON-2 docs show it, archived records included, vendor bills filtered out.
    for (const h of seen.headers) expect(h).toMatchObject({ authorization: `bearer ${KEY}`, 'x-odoo-database': 'mycompany', 'content-type': 'application/json; charset=utf-8' });
    expect(Object.keys(fixtureRequestBody).every((k) => k in seen.requests[0]!)).toBe(true);
    expect(seen.requests[0]).toMatchObject({ model: 'res.partner', order: 'write_date asc, id asc', limit: 200, context: { active_test: false } });
    expect(seen.requests.find((r) => r['model'] === 'account.move')).toMatchObject({ domain: [['move_type', 'in', ['out_invoice', 'out_refund']]] });

    // Later: an old partner edited, a new one, and one written late in the cursor's own second.
    rows.find((r) => r.id === 3)!.at = '2026-01-10 10:00:00.500000';
    rows.push({ id: 470, model: 'res.partner', at: '2026-01-10 10:00:00.100000', fields: { name: 'New' } });
    rows.push({ id: 471, model: 'res.partner', at: '2026-01-10 09:01:00.700000', fields: { name: 'Late in the second' } });
    const second = await pollAll(connector, ctx, first.checkpoint);
    expect(second.payloads.map((p) => (p['partner'] as { id: number }).id).sort((a, b) => a - b)).toEqual([3, 470, 471]);

    const third = await pollAll(connector, ctx, second.checkpoint);
    expect(third.payloads).toEqual([]);
  });

  it('says in words that the API key was refused, with Odoo’s own message', async () => {
    nock(BASE).post('/json/2/res.partner/search_read').reply(401, fixture401);
    const { ctx, connector } = setup({ url: BASE, apiKey: 'wrong-key-0123456789' });
    await expect(connector.test!(ctx)).rejects.toThrow(`Odoo at ${BASE} rejected the credentials (401): Invalid apikey`);
  });

  it('fails a page whose rows ignore the domain asked for, instead of moving the cursor past records', async () => {
    nock(BASE)
      .post('/json/2/res.partner/search_read')
      .reply(200, [{ id: 3, write_date: '2026-01-10 09:00:00' }]);
    const { ctx, connector } = setup({ url: BASE, apiKey: KEY });
    const checkpoint = { v: 1, model: 'res.partner', cursors: { 'res.partner': { writeDate: '2026-01-10 09:00:00', id: 7 } } };
    await expect(connector.poll!.run(ctx, readOdooCheckpoint(checkpoint))).rejects.toThrow(/is outside the second asked for/);
  });
});
