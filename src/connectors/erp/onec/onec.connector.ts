import { Type, type Static } from 'typebox';
import { defineConnector, type ConnectorContext, type PollOutcome } from '../../connector.js';
import { HttpTuningSettings, callSource, checker, displayUrl, malformed } from '../../rest-poller/poller-support.js';
import { onecMapping } from './onec.mapping.js';
import {
  CatalogPageSchema,
  DocumentPageSchema,
  EMPTY_REF,
  ONEC_DATE,
  catalogStep,
  contactInfo,
  documentFilter,
  documentsProblem,
  documentsStep,
  documentsTop,
  odataErrorDetail,
  odataRoot,
  readOnecCheckpoint,
  resourceUrl,
  type CatalogItem,
  type DocumentItem,
  type OnecCheckpoint,
} from './onec.scan.js';

const FieldName = Type.String({ pattern: '^[^,\\s]+$' });

const Settings = Type.Object(
  {
    url: Type.String({ pattern: '^https?://[^/]+', description: 'the published base, e.g. http://1c.example.local/trade (…/odata/standard.odata is added)' }),
    username: Type.String({ minLength: 1, description: 'a 1C user with rights to read the published objects' }),
    password: Type.String({ minLength: 1, description: 'use ${ONEC_PASSWORD}' }),
    catalog: Type.String({ pattern: '^Catalog_', default: 'Catalog_Контрагенты', description: 'the catalog of customers, re-scanned in full' }),
    catalogSelect: Type.Array(FieldName, { default: [], description: '$select for the catalog; empty: every field, with the КонтактнаяИнформация table' }),
    catalogFilter: Type.Optional(Type.String({ minLength: 1, description: 'an OData $filter for the catalog, e.g. "IsFolder eq false"' })),
    documents: Type.Array(Type.String({ pattern: '^Document_' }), {
      default: ['Document_РеализацияТоваровУслуг'],
      description: 'sales document types, polled by Date; [] polls the catalog only',
    }),
    documentSelect: Type.Array(FieldName, {
      default: ['Ref_Key', 'DataVersion', 'Number', 'Date', 'Posted', 'DeletionMark', 'Контрагент_Key', 'СуммаДокумента', 'Комментарий'],
      description: '$select for documents; empty: every field, tabular sections included',
    }),
    documentFilter: Type.Optional(Type.String({ minLength: 1, description: 'an OData $filter added to the Date filter, e.g. "Posted eq true"' })),
    documentsSince: Type.Optional(Type.String({ pattern: ONEC_DATE, description: 'first run: documents dated from this time (the base’s local time)' })),
    currency: Type.String({ pattern: '^[A-Z]{3}$', default: 'RUB', description: 'documents give their currency as a catalog reference; this code goes on every order' }),
    utcOffset: Type.String({ pattern: '^[+-]\\d{2}:\\d{2}$', default: '+03:00', description: 'the base’s time zone: 1C dates carry none' }),
    pageSize: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
    ...HttpTuningSettings,
  },
  { additionalProperties: false },
);
type OnecSettings = Static<typeof Settings>;
type Ctx = ConnectorContext<OnecSettings>;

const isCatalogPage = checker(CatalogPageSchema);
const isDocumentPage = checker(DocumentPageSchema);
const isCollection = checker(Type.Object({ value: Type.Array(Type.Unknown()) }));

const system = (ctx: Ctx) => `1C at ${displayUrl(ctx.settings.url)}`;

async function get(ctx: Ctx, resource: string, query: [string, string][]): Promise<unknown> {
  const { username, password } = ctx.settings;
  const response = await callSource(
    ctx,
    'odata',
    system(ctx),
    {
      method: 'GET',
      url: resourceUrl(odataRoot(ctx.settings.url), resource, [['$format', 'json'], ...query]),
      // Built here rather than by axios: 1C user names are often Cyrillic, and the credentials go as UTF-8.
      headers: { Authorization: `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`, Accept: 'application/json' },
    },
    { detail: odataErrorDetail, hints: { 404: `is ${resource} in the OData composition of the publication?` } },
  );
  return response.data;
}

async function catalogPage(ctx: Ctx, checkpoint: OnecCheckpoint): Promise<PollOutcome<OnecCheckpoint>> {
  const { catalog, catalogSelect, catalogFilter, pageSize, documents } = ctx.settings;
  const query: [string, string][] = [
    ['$top', String(pageSize)],
    ['$skip', String(checkpoint.skip)],
    ...(catalogSelect.length > 0 ? [['$select', catalogSelect.join(',')] as [string, string]] : []),
    ...(catalogFilter ? [['$filter', catalogFilter] as [string, string]] : []),
  ];
  const body = await get(ctx, catalog, query);
  if (!isCatalogPage(body)) throw malformed(system(ctx), `an OData collection of ${catalog} with Ref_Key and DataVersion`, body, isCatalogPage.explain());
  const step = catalogStep(checkpoint.versions, body.value as CatalogItem[], checkpoint.skip, pageSize);
  const payloads = step.emit.map((item) => ({ resource: catalog, counterparty: item, ...contactInfo(item) }));
  if (!step.done) return { payloads, checkpoint: { ...checkpoint, versions: step.versions, skip: step.skip }, more: true };
  // The re-scan is complete: the documents next, then a fresh re-scan on the next poll.
  const firstDocuments = documents[0];
  return { payloads, checkpoint: { ...checkpoint, versions: step.versions, skip: 0, phase: firstDocuments ?? 'catalog' }, more: firstDocuments !== undefined };
}

async function documentsPage(ctx: Ctx, checkpoint: OnecCheckpoint, resource: string): Promise<PollOutcome<OnecCheckpoint>> {
  const { documentSelect, pageSize, documentsSince, documents, currency, utcOffset } = ctx.settings;
  const cursor = checkpoint.documents[resource];
  const top = documentsTop(cursor, pageSize);
  const filter = documentFilter(cursor?.date ?? documentsSince, ctx.settings.documentFilter);
  const query: [string, string][] = [
    ['$orderby', 'Date asc'],
    ['$top', String(top)],
    ...(filter ? [['$filter', filter] as [string, string]] : []),
    ...(documentSelect.length > 0 ? [['$select', documentSelect.join(',')] as [string, string]] : []),
  ];
  const body = await get(ctx, resource, query);
  if (!isDocumentPage(body)) throw malformed(system(ctx), `an OData collection of ${resource} with Ref_Key and Date`, body, isDocumentPage.explain());
  const items = body.value as DocumentItem[];
  const problem = documentsProblem(cursor, documentsSince, items);
  if (problem) throw malformed(system(ctx), `the ${resource} page asked for`, items, problem);
  const step = documentsStep(cursor, items, top);
  const payloads = step.emit.map((document) => {
    const counterparty = document['Контрагент_Key'];
    const counterpartyKey = typeof counterparty === 'string' && counterparty !== EMPTY_REF ? counterparty : undefined;
    return { resource, document, counterpartyKey, currency, utcOffset };
  });
  const next = { ...checkpoint, documents: { ...checkpoint.documents, ...(step.cursor ? { [resource]: step.cursor } : {}) } };
  if (step.more) return { payloads, checkpoint: next, more: true };
  const following = documents[documents.indexOf(resource) + 1];
  return { payloads, checkpoint: { ...next, phase: following ?? 'catalog', skip: 0 }, more: following !== undefined };
}

/**
 * 1C:Enterprise 8.3 through its standard OData interface (HTTP Basic): the counterparties catalog
 * is re-scanned in full (catalogs have no change cursor) and only objects whose DataVersion changed
 * are emitted; sales documents are polled by Date.
 */
export const onecConnector = defineConnector({
  type: '1c-odata',
  version: 1,
  description: '1C:Enterprise (standard OData): re-scans Catalog_Контрагенты by DataVersion, polls sales documents by Date',
  settingsSchema: Settings,
  mappings: [onecMapping],
  async test(ctx) {
    const body = await get(ctx, ctx.settings.catalog, [['$top', '1'], ['$select', 'Ref_Key']]);
    if (!isCollection(body)) throw malformed(system(ctx), `an OData collection of ${ctx.settings.catalog}`, body, isCollection.explain());
    return `${system(ctx)} accepted the credentials; ${ctx.settings.catalog} is published over OData and readable`;
  },
  poll: {
    everyMs: 15 * 60_000,
    readCheckpoint: readOnecCheckpoint,
    run(ctx, checkpoint) {
      const start: OnecCheckpoint = checkpoint ?? { v: 1, phase: 'catalog', skip: 0, versions: {}, documents: {} };
      // A document type no longer configured (or a renamed catalog) sends the poll back to the catalog.
      const phase = ctx.settings.documents.includes(start.phase) ? start.phase : 'catalog';
      return phase === 'catalog' ? catalogPage(ctx, { ...start, phase }) : documentsPage(ctx, start, phase);
    },
  },
});
