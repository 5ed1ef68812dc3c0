import { Type, type Static } from 'typebox';
import { checker, readPath } from './poller-support.js';
import type { IncrementalSettings, PaginationSettings, RestPollerSettings } from './rest-poller.settings.js';

const CursorValue = Type.Union([Type.String(), Type.Number()]);

/** Where a pass (one walk through the pages) stands, and the largest cursor value it has seen so far. */
const PassSchema = Type.Object(
  {
    page: Type.Optional(Type.Integer({ minimum: 0 })),
    offset: Type.Optional(Type.Integer({ minimum: 0 })),
    cursor: Type.Optional(Type.String()),
    next: Type.Optional(Type.String()),
    max: Type.Union([CursorValue, Type.Null()]),
    maxIds: Type.Array(Type.String()),
  },
  { additionalProperties: false },
);
export type Pass = Static<typeof PassSchema>;

/**
 * `since` is the cursor value sent with every page of a pass (the largest one the previous passes
 * saw) and `sinceIds` the items already taken at exactly that value; `pass` is the walk in progress.
 */
export const RestCheckpointSchema = Type.Object(
  { v: Type.Literal(1), since: Type.Union([CursorValue, Type.Null()]), sinceIds: Type.Array(Type.String()), pass: Type.Union([PassSchema, Type.Null()]) },
  { additionalProperties: false },
);
export type RestCheckpoint = Static<typeof RestCheckpointSchema>;
type CursorValue = string | number;

const isCheckpoint = checker(RestCheckpointSchema);

/** A checkpoint read back from the store, or null when it is not one this connector wrote. */
export function readRestCheckpoint(value: unknown): RestCheckpoint | null {
  return isCheckpoint(value) ? value : null;
}

/** Where a poller with no checkpoint starts: the configured initial value, no pass under way. */
export function initialCheckpoint(settings: Pick<RestPollerSettings, 'incremental'>): RestCheckpoint {
  return { v: 1, since: settings.incremental?.initialValue ?? null, sinceIds: [], pass: null };
}

/** The HTTP request for the page a checkpoint points at. */
export type PageRequest = { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; data?: Record<string, unknown> };

function authHeaders(auth: RestPollerSettings['auth']): Record<string, string> {
  switch (auth.type) {
    case 'none':
      return {};
    case 'bearer':
      return { Authorization: `Bearer ${auth.token}` };
    case 'basic':
      return { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}` };
    case 'header':
      return { [auth.name]: auth.value };
  }
}

/** The page and cursor parameters of a request (the variant's defaults filled in); numbers stay numbers in a JSON body. */
export function pageParams(pagination: PaginationSettings, pass: Pass | null): Record<string, string | number> {
  switch (pagination.style) {
    case 'none':
    case 'link':
      return {};
    case 'page':
      return { [pagination.pageParam ?? 'page']: pass?.page ?? pagination.firstPage ?? 1, [pagination.sizeParam ?? 'per_page']: pagination.size ?? 100 };
    case 'offset':
      return { [pagination.offsetParam ?? 'offset']: pass?.offset ?? 0, [pagination.limitParam ?? 'limit']: pagination.limit ?? 100 };
    case 'cursor':
      return { ...(pass?.cursor !== undefined ? { [pagination.cursorParam]: pass.cursor } : {}), ...(pagination.sizeParam ? { [pagination.sizeParam]: pagination.size ?? 100 } : {}) };
  }
}

/** The request for the page the checkpoint points at: fixed settings, auth, cursor and page parameters. */
export function buildRequest(settings: RestPollerSettings, checkpoint: RestCheckpoint): PageRequest {
  const headers = { Accept: 'application/json', ...settings.headers, ...authHeaders(settings.auth) };
  const pass = checkpoint.pass;
  // A Link header's next URL carries its own query: it is followed as given.
  if (settings.pagination.style === 'link' && pass?.next) return { method: settings.method, url: pass.next, headers, ...(settings.method === 'POST' ? { data: settings.body ?? {} } : {}) };
  const dynamic: Record<string, string | number> = {
    ...(settings.incremental && checkpoint.since !== null ? { [settings.incremental.cursorParam]: checkpoint.since } : {}),
    ...pageParams(settings.pagination, pass),
  };
  const url = new URL(settings.url);
  const inBody = settings.method === 'POST' && settings.paramsIn === 'body';
  for (const [k, v] of Object.entries({ ...settings.query, ...(inBody ? {} : dynamic) })) url.searchParams.set(k, String(v));
  if (settings.method === 'GET') return { method: 'GET', url: url.toString(), headers };
  return { method: 'POST', url: url.toString(), headers, data: { ...(settings.body ?? {}), ...(inBody ? dynamic : {}) } };
}

/** The rel="next" target of an RFC 8288 Link header, resolved against the request URL; undefined if none. */
export function linkNext(header: unknown, base: string): string | undefined {
  const value = Array.isArray(header) ? header.join(', ') : header;
  if (typeof value !== 'string') return undefined;
  const link = /<([^>]*)>((?:\s*;\s*[^;,=]+(?:=(?:"[^"]*"|[^;,]*))?)*)/g;
  for (let m = link.exec(value); m; m = link.exec(value)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(m[2] ?? '');
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (rels.includes('next')) {
      try {
        return new URL(m[1] ?? '', base).toString();
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Where the next page of a pass is (null: this was the last), or why the answer cannot be followed. */
export type PageOutcome = { next: Omit<Pass, 'max' | 'maxIds'> | null } | { problem: string };

/** Where the next page is, from this page's answer; null when this one was the last. */
export function nextPage(settings: RestPollerSettings, request: PageRequest, pass: Pass | null, items: unknown[], body: unknown, linkHeader: unknown): PageOutcome {
  const p = settings.pagination;
  switch (p.style) {
    case 'none':
      return { next: null };
    case 'page':
      return { next: items.length >= (p.size ?? 100) ? { page: (pass?.page ?? p.firstPage ?? 1) + 1 } : null };
    case 'offset':
      return { next: items.length >= (p.limit ?? 100) ? { offset: (pass?.offset ?? 0) + items.length } : null };
    case 'cursor': {
      const raw = readPath(body, p.nextCursorPath);
      const cursor = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '';
      if (cursor === '' || items.length === 0) return { next: null };
      if (cursor === pass?.cursor) return { problem: `the next cursor at ${p.nextCursorPath} is the one just used ("${cursor}")` };
      return { next: { cursor } };
    }
    case 'link': {
      const next = linkNext(linkHeader, request.url);
      if (!next) return { next: null };
      // The credentials go with every request: never to a host the configuration did not name.
      if (new URL(next).origin !== new URL(settings.url).origin) return { problem: `the Link next URL ${new URL(next).origin} is not on ${new URL(settings.url).origin}; not following it` };
      if (next === request.url) return { problem: 'the Link next URL is the page just read' };
      return { next: { next } };
    }
  }
}

function cursorOf(item: unknown, inc: IncrementalSettings): CursorValue | undefined {
  const raw = readPath(item, inc.cursorField);
  if (inc.type === 'number') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    return Number.isFinite(n) ? n : undefined;
  }
  if (typeof raw !== 'string' || raw === '') return undefined;
  return inc.type === 'date' && Number.isNaN(Date.parse(raw)) ? undefined : raw;
}

/** Orders two cursor values as the configured type says. */
export function compareCursor(a: CursorValue, b: CursorValue, type: IncrementalSettings['type']): number {
  if (type === 'number') return Number(a) - Number(b);
  if (type === 'date') return Date.parse(String(a)) - Date.parse(String(b));
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function idOf(item: unknown, inc: IncrementalSettings): string {
  const id = readPath(item, inc.idField);
  // Without an id, the item's content is its identity: the same item again is dropped, a changed one is not.
  return typeof id === 'string' || typeof id === 'number' ? String(id) : JSON.stringify(item);
}

/** The items to emit and the pass's largest cursor value with the ids at it, or why a page is unusable. */
export type Selection = { emit: unknown[]; max: CursorValue | null; maxIds: string[] } | { problem: string };

/**
 * The items of a page to emit. With an incremental cursor, an item older than the pass's `since`
 * was taken by an earlier pass (the API ignored the parameter) and one at exactly `since` is
 * taken only if its id is new (APIs differ on >= and >; this is right for both).
 */
export function selectItems(inc: IncrementalSettings | undefined, checkpoint: RestCheckpoint, items: unknown[]): Selection {
  const pass = checkpoint.pass;
  if (!inc) return { emit: items, max: null, maxIds: [] };
  let max = pass?.max ?? null;
  const maxIds = new Set(pass?.maxIds ?? []);
  const sinceIds = new Set(checkpoint.sinceIds);
  const emit: unknown[] = [];
  for (const [i, item] of items.entries()) {
    const value = cursorOf(item, inc);
    if (value === undefined) return { problem: `item ${i} has no ${inc.type} value at ${inc.cursorField}` };
    const id = idOf(item, inc);
    if (checkpoint.since !== null) {
      const c = compareCursor(value, checkpoint.since, inc.type);
      if (c < 0 || (c === 0 && sinceIds.has(id))) continue;
    }
    emit.push(item);
    const c = max === null ? 1 : compareCursor(value, max, inc.type);
    if (c > 0) {
      max = value;
      maxIds.clear();
    }
    if (c >= 0) maxIds.add(id);
  }
  return { emit, max, maxIds: [...maxIds] };
}

/** The checkpoint once a pass has read its last page: the next pass asks from the largest value seen. */
export function finishPass(inc: IncrementalSettings | undefined, checkpoint: RestCheckpoint, max: CursorValue | null, maxIds: string[]): RestCheckpoint {
  if (!inc || max === null) return { ...checkpoint, pass: null };
  if (checkpoint.since === null || compareCursor(max, checkpoint.since, inc.type) > 0) return { v: 1, since: max, sinceIds: maxIds, pass: null };
  return { v: 1, since: checkpoint.since, sinceIds: [...new Set([...checkpoint.sinceIds, ...maxIds])], pass: null };
}
