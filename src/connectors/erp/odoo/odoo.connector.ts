import { Type, type Static } from 'typebox';
import { HubError } from '../../../core/errors.js';
import { defineConnector, type ConnectorContext } from '../../connector.js';
import { HttpTuningSettings, callSource, checker, displayUrl, malformed } from '../../rest-poller/poller-support.js';
import {
  ODOO_MODELS,
  OdooRowSchema,
  WriteDateSchema,
  afterLater,
  afterSameSecond,
  laterQuery,
  pageProblem,
  readOdooCheckpoint,
  sameSecondQuery,
  type ModelCursor,
  type ModelStep,
  type OdooCheckpoint,
  type OdooModel,
  type OdooRow,
  type OdooSearch,
  type OdooTerm,
} from './odoo.cursor.js';
import { odooMapping } from './odoo.mapping.js';

const Settings = Type.Object(
  {
    url: Type.String({ pattern: '^https?://[^/]+', description: 'the Odoo address, e.g. https://mycompany.odoo.com' }),
    apiKey: Type.String({ minLength: 16, description: 'API key of a dedicated user (Preferences → Account Security → New API Key); use ${ODOO_API_KEY}' }),
    database: Type.Optional(Type.String({ minLength: 1, description: 'sent as X-Odoo-Database; needed when the server hosts several databases' })),
    models: Type.Array(Type.Enum(ODOO_MODELS), { minItems: 1, uniqueItems: true, default: [...ODOO_MODELS], description: 'what to poll' }),
    moveTypes: Type.Array(Type.Enum(['out_invoice', 'out_refund', 'in_invoice', 'in_refund', 'out_receipt', 'in_receipt', 'entry']), {
      minItems: 1,
      default: ['out_invoice', 'out_refund'],
      description: 'account.move types to poll; default customer invoices and credit notes',
    }),
    partnerFields: Type.Array(Type.String({ pattern: '^[a-z_][a-z0-9_]*$' }), { default: [], description: 'extra res.partner fields to read, for a custom mapping' }),
    moveFields: Type.Array(Type.String({ pattern: '^[a-z_][a-z0-9_]*$' }), { default: [], description: 'extra account.move fields to read, for a custom mapping' }),
    since: Type.Optional(WriteDateSchema),
    pageSize: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
    ...HttpTuningSettings,
  },
  { additionalProperties: false },
);
type OdooSettings = Static<typeof Settings>;
type Ctx = ConnectorContext<OdooSettings>;

// Fields present on res.partner and account.move from Odoo 16 to 19; asking for a field a model
// lacks is an error, so anything else is opt-in through partnerFields/moveFields.
const FIELDS: Record<OdooModel, string[]> = {
  'res.partner': ['id', 'name', 'email', 'phone', 'vat', 'ref', 'is_company', 'commercial_company_name', 'street', 'city', 'zip', 'country_id', 'lang', 'active', 'write_date'],
  'account.move': ['id', 'name', 'move_type', 'state', 'payment_state', 'partner_id', 'invoice_date', 'invoice_date_due', 'amount_total', 'amount_residual', 'currency_id', 'ref', 'invoice_origin', 'write_date'],
};
const PAYLOAD_KEY: Record<OdooModel, string> = { 'res.partner': 'partner', 'account.move': 'move' };

const isRows = checker(Type.Array(OdooRowSchema));

const system = (ctx: Ctx) => `Odoo at ${displayUrl(ctx.settings.url)}`;

async function searchRead(ctx: Ctx, model: OdooModel, query: OdooSearch, fields: string[]): Promise<OdooRow[]> {
  const request = {
    method: 'POST',
    url: `${ctx.settings.url.replace(/\/+$/, '')}/json/2/${model}/search_read`,
    headers: {
      // As the JSON-2 docs write it (odoo/documentation external_api.rst); schemes are case-insensitive anyway.
      Authorization: `bearer ${ctx.settings.apiKey}`,
      'Content-Type': 'application/json; charset=utf-8',
      ...(ctx.settings.database ? { 'X-Odoo-Database': ctx.settings.database } : {}),
    },
    // active_test=false: archived partners are changes too.
    data: { domain: query.domain, fields, order: query.order, limit: query.limit, context: { active_test: false } },
  };
  const response = await callSource(ctx, 'json2', system(ctx), request, { hints: { 404: 'the External JSON-2 API (/json/2) needs Odoo 19 or later' } });
  if (!isRows(response.data)) throw malformed(system(ctx), `a list of ${model} records with id and write_date`, response.data, isRows.explain());
  return response.data as OdooRow[];
}

async function stepModel(ctx: Ctx, model: OdooModel, cursor: ModelCursor | undefined): Promise<ModelStep> {
  const { pageSize: limit, since } = ctx.settings;
  const base: OdooTerm[] = model === 'account.move' ? [['move_type', 'in', ctx.settings.moveTypes]] : [];
  const fields = [...new Set([...FIELDS[model], ...(model === 'res.partner' ? ctx.settings.partnerFields : ctx.settings.moveFields)])];
  // A page that ignores the domain or the order would move the cursor past records never seen.
  const check = (rows: OdooRow[], query: 'same-second' | 'later', from: ModelCursor | undefined) => {
    const problem = pageProblem(rows, query, from, since);
    if (problem) throw malformed(system(ctx), `the ${model} page asked for`, rows, problem);
  };
  let taken: OdooRow[] = [];
  let position = cursor;
  if (position) {
    const rows = await searchRead(ctx, model, sameSecondQuery(base, position, limit), fields);
    check(rows, 'same-second', position);
    const step = afterSameSecond(position, rows, limit);
    if (step.more) return step;
    taken = step.rows;
    position = step.cursor;
  }
  const rows = await searchRead(ctx, model, laterQuery(base, position, since, limit), fields);
  check(rows, 'later', position);
  const step = afterLater(position, rows, limit);
  return { rows: [...taken, ...step.rows], cursor: step.cursor, more: step.more };
}

/**
 * Odoo 19+ through the External JSON-2 API (`POST /json/2/<model>/search_read`, bearer API key):
 * partners become contacts, customer invoices become invoices on their timelines. Polls on a
 * (write_date, id) cursor per model; one poll pages through res.partner, then account.move.
 */
export const odooConnector = defineConnector({
  type: 'odoo',
  version: 1,
  description: 'Odoo 19+ (External JSON-2 API): polls res.partner and account.move on a write_date + id cursor',
  settingsSchema: Settings,
  mappings: [odooMapping],
  async test(ctx) {
    const rows = await searchRead(ctx, 'res.partner', { domain: [], order: 'id asc', limit: 1 }, ['id', 'write_date']);
    return `${system(ctx)} accepted the API key; res.partner is readable (${rows.length === 0 ? 'no partners yet' : 'partners found'})`;
  },
  poll: {
    everyMs: 5 * 60_000,
    readCheckpoint: readOdooCheckpoint,
    async run(ctx, checkpoint) {
      const models = ctx.settings.models;
      const first = models[0];
      if (!first) throw new HubError('CONFIG_INVALID', 'odoo: settings.models is empty');
      const cursors: OdooCheckpoint['cursors'] = { ...(checkpoint?.cursors ?? {}) };
      const model = checkpoint && models.includes(checkpoint.model) ? checkpoint.model : first;
      const step = await stepModel(ctx, model, cursors[model]);
      if (step.cursor) cursors[model] = step.cursor;
      const payloads = step.rows.map((row) => ({ model, [PAYLOAD_KEY[model]]: row }));
      const next = models[models.indexOf(model) + 1];
      if (step.more) return { payloads, checkpoint: { v: 1 as const, model, cursors }, more: true };
      // This model is caught up: on to the next one in the same poll, or back to the first next time.
      return { payloads, checkpoint: { v: 1 as const, model: next ?? first, cursors }, more: next !== undefined };
    },
  },
});
