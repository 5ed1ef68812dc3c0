import { Type, type Static } from 'typebox';
import { checker } from '../../rest-poller/poller-support.js';

/** A reference that points nowhere (an empty Контрагент on a document). */
export const EMPTY_REF = '00000000-0000-0000-0000-000000000000';
const GUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
export const ONEC_DATE = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}$';

/** Where the documents of one type stand: everything dated before `date` is queued, and at `date` the `refs`. */
export const DocumentCursorSchema = Type.Object({ date: Type.String({ pattern: ONEC_DATE }), refs: Type.Array(Type.String({ pattern: GUID })) }, { additionalProperties: false });
export type DocumentCursor = Static<typeof DocumentCursorSchema>;

/**
 * The whole 1C position. `versions` maps every catalog object seen to its DataVersion (an opaque
 * stamp, not orderable), so a full re-scan emits only what changed; `skip` is the re-scan's place;
 * `phase` is the catalog or the document type the current poll is paging through.
 */
export const OnecCheckpointSchema = Type.Object(
  {
    v: Type.Literal(1),
    phase: Type.String({ minLength: 1 }),
    skip: Type.Integer({ minimum: 0 }),
    versions: Type.Record(Type.String(), Type.String()),
    documents: Type.Record(Type.String(), DocumentCursorSchema),
  },
  { additionalProperties: false },
);
export type OnecCheckpoint = Static<typeof OnecCheckpointSchema>;

const isCheckpoint = checker(OnecCheckpointSchema);

/** A checkpoint read back from the store, or null when it is not one this connector wrote. */
export function readOnecCheckpoint(value: unknown): OnecCheckpoint | null {
  return isCheckpoint(value) ? value : null;
}

/** What the poller relies on in an OData collection answer. */
export const CatalogPageSchema = Type.Object({
  value: Type.Array(Type.Object({ Ref_Key: Type.String({ pattern: GUID }), DataVersion: Type.String({ minLength: 1 }), IsFolder: Type.Optional(Type.Boolean()) })),
});
export const DocumentPageSchema = Type.Object({
  value: Type.Array(Type.Object({ Ref_Key: Type.String({ pattern: GUID }), Date: Type.String({ pattern: ONEC_DATE }) })),
});
export type CatalogItem = Static<typeof CatalogPageSchema>['value'][number] & Record<string, unknown>;
export type DocumentItem = Static<typeof DocumentPageSchema>['value'][number] & Record<string, unknown>;

/** The OData root of a publication: `http://host/base` and `…/odata/standard.odata` both work. */
export function odataRoot(url: string): string {
  const trimmed = url.replace(/\/+$/, '');
  return /\/odata\/standard\.odata$/i.test(trimmed) ? trimmed : `${trimmed}/odata/standard.odata`;
}

/**
 * A resource URL with its query. Resource and field names are Cyrillic and must be percent-encoded
 * (1C:Enterprise OData, https://1C-dn.com/1c_enterprise/rest_interface/); the `$` of the system
 * options stays as is, and spaces become %20, never "+", which OData does not read as a space.
 */
export function resourceUrl(root: string, resource: string, query: [string, string][]): string {
  const qs = query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
  return `${root}/${encodeURIComponent(resource)}${qs ? `?${qs}` : ''}`;
}

/** OData v3 filter: documents dated at or after `date` (a `datetime'…'` literal), within the user's own filter. */
export function documentFilter(date: string | undefined, extra: string | undefined): string | undefined {
  const since = date ? `Date ge datetime'${date}'` : undefined;
  if (since && extra) return `(${extra}) and ${since}`;
  return since ?? extra;
}

export type CatalogStep = { emit: CatalogItem[]; versions: Record<string, string>; skip: number; done: boolean };

/**
 * One page of the full re-scan: emits the objects whose DataVersion differs from the one seen
 * last (new ones included), except folders of a hierarchical catalog, which are no counterparties.
 * Paging by $skip while the catalog changes can shift a page: an object missed this scan is new
 * to the map on the next, and one seen twice has the same version, so the scan heals itself.
 */
export function catalogStep(versions: Record<string, string>, items: CatalogItem[], skip: number, pageSize: number): CatalogStep {
  const next = { ...versions };
  const emit: CatalogItem[] = [];
  for (const item of items) {
    if (next[item.Ref_Key] === item.DataVersion) continue;
    next[item.Ref_Key] = item.DataVersion;
    if (item.IsFolder !== true) emit.push(item);
  }
  return { emit, versions: next, skip: skip + items.length, done: items.length < pageSize };
}

/** `$top` for a documents page: the refs already taken at the cursor's date come back first and are dropped. */
export function documentsTop(cursor: DocumentCursor | undefined, pageSize: number): number {
  return pageSize + (cursor?.refs.length ?? 0);
}

export type DocumentsStep = { emit: DocumentItem[]; cursor: DocumentCursor | undefined; more: boolean };

/**
 * One page of documents asked for with `Date ge <cursor date>`, oldest first. Dates are to the
 * second and several documents can share one, so the cursor keeps the refs taken at its date:
 * asking again from that date returns them first, and they are dropped. A full page means more.
 */
export function documentsStep(cursor: DocumentCursor | undefined, items: DocumentItem[], top: number): DocumentsStep {
  const seen = new Set(cursor?.date ? cursor.refs : []);
  const emit = items.filter((d) => !(d.Date === cursor?.date && seen.has(d.Ref_Key)));
  const last = items.at(-1);
  if (!last) return { emit, cursor, more: false };
  const atLast = items.filter((d) => d.Date === last.Date).map((d) => d.Ref_Key);
  const refs = last.Date === cursor?.date ? [...new Set([...cursor.refs, ...atLast])] : atLast;
  return { emit, cursor: { date: last.Date, refs }, more: items.length >= top };
}

/** Why a documents page cannot be trusted (not in date order, or older than asked), or null. */
export function documentsProblem(cursor: DocumentCursor | undefined, since: string | undefined, items: DocumentItem[]): string | null {
  const from = cursor?.date ?? since;
  for (let i = 0; i < items.length; i += 1) {
    const d = items[i]!;
    if (from && d.Date < from) return `document ${d.Ref_Key} is dated ${d.Date}, before ${from} asked for`;
    const prev = items[i - 1];
    if (prev && d.Date < prev.Date) return `documents are not in Date order at ${i}`;
  }
  return null;
}

/** Emails and phones from a catalog item's КонтактнаяИнформация table (БСП contact information), if it has one. */
export function contactInfo(item: Record<string, unknown>): { emails: string[]; phones: string[] } {
  const rows = item['КонтактнаяИнформация'];
  const emails: string[] = [];
  const phones: string[] = [];
  if (!Array.isArray(rows)) return { emails, phones };
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  for (const row of rows) {
    if (row === null || typeof row !== 'object') continue;
    const r = row as Record<string, unknown>;
    if (r['Тип'] === 'АдресЭлектроннойПочты') {
      const v = text(r['АдресЭП']) ?? text(r['Представление']);
      if (v) emails.push(v);
    } else if (r['Тип'] === 'Телефон') {
      const v = text(r['НомерТелефона']) ?? text(r['Представление']);
      if (v) phones.push(v);
    }
  }
  return { emails, phones };
}

/** The message of a 1C OData error body: `{"odata.error":{"code","message":{"lang","value"}}}`. */
export function odataErrorDetail(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const error = (body as Record<string, unknown>)['odata.error'];
  if (error === null || typeof error !== 'object') return undefined;
  const e = error as Record<string, unknown>;
  const message = e['message'];
  const value = message !== null && typeof message === 'object' ? (message as Record<string, unknown>)['value'] : message;
  const code = typeof e['code'] === 'string' || typeof e['code'] === 'number' ? ` [code ${String(e['code'])}]` : '';
  return typeof value === 'string' && value.trim() !== '' ? `${value.trim()}${code}` : code ? `OData error${code}` : undefined;
}
