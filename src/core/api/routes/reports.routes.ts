import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HubError } from '../../errors.js';
import { Channel } from '../../record.schema.js';
import type { IngestQueue } from '../../pipeline/ingest.queue.js';
import { INTERVALS, NO_CURRENCY, type Interval, type ReportsStore } from '../../reports/reports.store.js';
import { failedRecordsBySource, MAX_FAILED_JOBS } from '../../reports/failures.js';
import { sendCsv, toCsv, wantsCsv } from '../../reports/csv.js';
import { authErrors, Cursor, Limit } from '../schemas.js';

export type ReportsRouteDeps = { reports: ReportsStore; ingest: Pick<IngestQueue, 'queue'> };

const DAY_MS = 86_400_000;
/** Default range per interval when `from` is not given: about 30 periods of days, 12 of weeks, 12 of months. */
const DEFAULT_SPAN_DAYS: Record<Interval, number> = { day: 30, week: 84, month: 365 };
/** More periods than this is a chart nobody can read and a query nobody should wait for. */
const MAX_PERIODS = 5000;
const PERIOD_DAYS: Record<Interval, number> = { day: 1, week: 7, month: 28 };

const DateOrTime = Type.Union([Type.String({ format: 'date-time' }), Type.String({ format: 'date' })], {
  description: 'ISO-8601 UTC time, or a date (from: its 00:00 UTC; to: the end of that day)',
});
const RangeQuery = {
  from: Type.Optional(DateOrTime),
  to: Type.Optional(DateOrTime),
  interval: Type.Union(INTERVALS.map((i) => Type.Literal(i)), { default: 'day', description: 'UTC periods (weeks start on Monday)' }),
};
const CSV_NOTE = 'Send `Accept: text/csv` for the same report as CSV (UTF-8, RFC 4180).';
const produces = ['application/json', 'text/csv'];

const Amount = Type.Object({ currency: Type.String({ description: `ISO 4217; ${NO_CURRENCY} for amounts sent without a currency` }), amount: Type.Number() });

function isDateOnly(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value);
}

/** The [from, to) range a query asks for, checked: from before to, and not more periods than can be charted. */
function range(query: { from?: string; to?: string; interval: Interval }): { from: string; to: string; interval: Interval } {
  const to = query.to === undefined ? Date.now() : Date.parse(query.to) + (isDateOnly(query.to) ? DAY_MS : 0);
  const from = query.from === undefined ? to - DEFAULT_SPAN_DAYS[query.interval] * DAY_MS : Date.parse(query.from);
  if (!Number.isFinite(from) || !Number.isFinite(to)) throw new HubError('VALIDATION', 'from and to must be valid times', { errors: [{ path: '/querystring', message: 'invalid time' }] });
  if (from >= to) throw new HubError('VALIDATION', 'from must be before to', { errors: [{ path: '/querystring/from', message: 'must be before to' }] });
  const periods = (to - from) / (PERIOD_DAYS[query.interval] * DAY_MS);
  if (periods > MAX_PERIODS) {
    throw new HubError('VALIDATION', `the range spans about ${Math.ceil(periods)} ${query.interval}s; at most ${MAX_PERIODS}: narrow it or choose a longer interval`, {
      errors: [{ path: '/querystring/interval', message: `more than ${MAX_PERIODS} periods` }],
    });
  }
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), interval: query.interval };
}

function csvReply(reply: FastifyReply, name: string, header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]) {
  return sendCsv(reply, name, toCsv(header, rows));
}

export async function reportsRoutes(fastify: FastifyInstance, deps: ReportsRouteDeps) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  // One URL, two representations: caches must key on Accept.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('vary', 'Accept');
  });

  app.get(
    '/v1/reports/overview',
    {
      config: { access: 'read' },
      schema: {
        tags: ['reports'],
        summary: 'Totals: live and merged profiles, records by kind, interactions by channel, sources, merges',
        description: `${CSV_NOTE} The CSV has one metric per line.`,
        produces,
        response: {
          200: Type.Object({
            profiles: Type.Object({ live: Type.Integer(), merged: Type.Integer({ description: 'profiles merged into another (their ids redirect)' }) }),
            records: Type.Object({ total: Type.Integer(), contacts: Type.Integer(), interactions: Type.Integer() }),
            interactionsByChannel: Type.Array(Type.Object({ channel: Type.String(), count: Type.Integer() })),
            sources: Type.Integer(),
            merges: Type.Integer(),
            firstRecordAt: Type.Union([Type.String(), Type.Null()]),
            lastRecordAt: Type.Union([Type.String(), Type.Null()]),
          }),
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const o = await deps.reports.overview();
      if (!wantsCsv(request)) return o;
      return csvReply(reply, 'overview', ['metric', 'value'], [
        ['profiles.live', o.profiles.live],
        ['profiles.merged', o.profiles.merged],
        ['records.total', o.records.total],
        ['records.contacts', o.records.contacts],
        ['records.interactions', o.records.interactions],
        ...o.interactionsByChannel.map((c) => [`interactions.${c.channel}`, c.count]),
        ['sources', o.sources],
        ['merges', o.merges],
        ['firstRecordAt', o.firstRecordAt],
        ['lastRecordAt', o.lastRecordAt],
      ]);
    },
  );

  app.get(
    '/v1/reports/sources',
    {
      config: { access: 'read' },
      schema: {
        tags: ['reports'],
        summary: 'Per source: records, profiles, duplicate rate, failures',
        description:
          'duplicateRate = duplicateRecords / records, where duplicateRecords are the records of the source whose profile also holds records from another source: ' +
          'how much of what this system knows, another system knows too. failed = records of the source in the ingest queue failed set (dead letters, ' +
          `up to ${MAX_FAILED_JOBS} failed jobs read; failedTruncated tells when there were more). ${CSV_NOTE}`,
        produces,
        response: {
          200: Type.Object({
            data: Type.Array(
              Type.Object({
                source: Type.String(),
                records: Type.Integer(),
                contacts: Type.Integer(),
                interactions: Type.Integer(),
                profiles: Type.Integer({ description: 'live profiles holding records of this source' }),
                duplicateRecords: Type.Integer(),
                duplicateRate: Type.Number({ minimum: 0, maximum: 1 }),
                failed: Type.Integer(),
              }),
            ),
            failedTruncated: Type.Boolean(),
          }),
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const [rows, failures] = await Promise.all([deps.reports.sources(), failedRecordsBySource(deps.ingest.queue)]);
      const data = rows.map((r) => ({ ...r, failed: failures.bySource.get(r.source) ?? 0 }));
      // A source whose every record failed has no stored record, yet belongs in the report.
      for (const [source, failed] of failures.bySource) {
        if (!rows.some((r) => r.source === source)) data.push({ source, records: 0, contacts: 0, interactions: 0, profiles: 0, duplicateRecords: 0, duplicateRate: 0, failed });
      }
      data.sort((a, b) => a.source.localeCompare(b.source));
      if (!wantsCsv(request)) return { data, failedTruncated: failures.truncated };
      return csvReply(
        reply,
        'sources',
        ['source', 'records', 'contacts', 'interactions', 'profiles', 'duplicateRecords', 'duplicateRate', 'failed'],
        data.map((r) => [r.source, r.records, r.contacts, r.interactions, r.profiles, r.duplicateRecords, r.duplicateRate, r.failed]),
      );
    },
  );

  app.get(
    '/v1/reports/interactions',
    {
      config: { access: 'read' },
      schema: {
        tags: ['reports'],
        summary: 'Interactions per channel per UTC period, with their amounts per currency',
        description: `Counts interactions with occurredAt in [from, to); default range: the last 30 days (day), 12 weeks (week), 12 months (month). Only non-empty periods are listed. ${CSV_NOTE} The CSV has one amount column per currency (amount_RUB, ...).`,
        produces,
        querystring: Type.Object({ ...RangeQuery, channel: Type.Optional(Channel) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            from: Type.String(),
            to: Type.String(),
            interval: Type.String(),
            data: Type.Array(Type.Object({ period: Type.String({ description: 'start of the UTC period' }), channel: Type.String(), count: Type.Integer(), amounts: Type.Array(Amount) })),
          }),
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const r = range(request.query);
      const data = await deps.reports.interactions({ ...r, ...(request.query.channel ? { channel: request.query.channel } : {}) });
      if (!wantsCsv(request)) return { ...r, data };
      const currencies = [...new Set(data.flatMap((row) => row.amounts.map((a) => a.currency)))].sort();
      return csvReply(
        reply,
        'interactions',
        ['period', 'channel', 'count', ...currencies.map((c) => `amount_${c}`)],
        data.map((row) => [row.period, row.channel, row.count, ...currencies.map((c) => row.amounts.find((a) => a.currency === c)?.amount)]),
      );
    },
  );

  app.get(
    '/v1/reports/customers',
    {
      config: { access: 'read' },
      schema: {
        tags: ['reports'],
        summary: 'Customers ranked by value (order, invoice and payment amounts) or by days since their last interaction',
        description:
          'sort=value: per profile and currency, the amount of the most settled stage its sources report (payments, else invoices, else orders: an order, ' +
          'its invoice and its payment are one sale told three times; the same rule as a profile\'s stats.totalAmount). Currencies are never added: without ' +
          '`currency` a customer appears once per currency. Default order: highest first. sort=recency: profiles with at least one interaction, by days since ' +
          `the last one (whole days before asOf); default order: most recent first, order=desc lists the longest silent first. ${CSV_NOTE}`,
        produces,
        querystring: Type.Object(
          {
            sort: Type.Union([Type.Literal('value'), Type.Literal('recency')], { default: 'value' }),
            order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { description: 'default: desc for value, asc (fewest days) for recency' })),
            currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$', description: `ISO 4217 code; ${NO_CURRENCY} = amounts without a currency` })),
            limit: Limit,
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            asOf: Type.String(),
            data: Type.Array(
              Type.Object({
                profileId: Type.String(),
                name: Type.Union([Type.String(), Type.Null()]),
                company: Type.Union([Type.String(), Type.Null()]),
                currency: Type.Optional(Type.String()),
                value: Type.Optional(Type.Number()),
                stage: Type.Optional(Type.String({ description: 'the stage counted: payment, invoice or order' })),
                lastInteractionAt: Type.Optional(Type.String()),
                daysSinceLastInteraction: Type.Optional(Type.Integer()),
              }),
            ),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const { sort, currency, limit, cursor } = request.query;
      if (currency && sort === 'recency') throw new HubError('VALIDATION', 'currency applies to sort=value only', { errors: [{ path: '/querystring/currency', message: 'only with sort=value' }] });
      const order = request.query.order ?? (sort === 'value' ? 'desc' : 'asc');
      const asOf = new Date().toISOString();
      const page = await deps.reports.customers({ sort, order, limit, asOf, ...(currency ? { currency } : {}), ...(cursor ? { cursor } : {}) });
      if (!wantsCsv(request)) return { asOf, ...page };
      // The next page's cursor travels in a header: a CSV has no place for it.
      if (page.nextCursor) reply.header('x-next-cursor', page.nextCursor);
      return sort === 'value'
        ? csvReply(reply, 'customers', ['profileId', 'name', 'company', 'currency', 'value', 'stage'], page.data.map((c) => [c.profileId, c.name, c.company, c.currency, c.value, c.stage]))
        : csvReply(
            reply,
            'customers',
            ['profileId', 'name', 'company', 'lastInteractionAt', 'daysSinceLastInteraction'],
            page.data.map((c) => [c.profileId, c.name, c.company, c.lastInteractionAt, c.daysSinceLastInteraction]),
          );
    },
  );

  app.get(
    '/v1/reports/customers/new-vs-returning',
    {
      config: { access: 'read' },
      schema: {
        tags: ['reports'],
        summary: 'Per UTC period: new customers (first record in it) and returning ones (first record before it, an interaction in it)',
        description: `Periods cut by [from, to): the first and last are clipped to the range. Only non-empty periods are listed. ${CSV_NOTE}`,
        produces,
        querystring: Type.Object(RangeQuery, { additionalProperties: false }),
        response: {
          200: Type.Object({
            from: Type.String(),
            to: Type.String(),
            interval: Type.String(),
            data: Type.Array(Type.Object({ period: Type.String(), new: Type.Integer(), returning: Type.Integer() })),
          }),
          ...authErrors,
        },
      },
    },
    async (request, reply) => {
      const r = range(request.query);
      const data = await deps.reports.newVsReturning(r);
      if (!wantsCsv(request)) return { ...r, data };
      return csvReply(reply, 'new-vs-returning', ['period', 'new', 'returning'], data.map((row) => [row.period, row.new, row.returning]));
    },
  );
}
