import type { HubRecord } from '../core/record.schema.js';
import type { FieldError } from '../core/errors.js';
import { validateRecordsBody } from '../core/record.validate.js';
import type { MappingDocument, RecordTemplate, TransformStep } from './mapping.schema.js';
import { applyTransform } from './transforms.js';

export type MappingResult = { records: HubRecord[]; errors: FieldError[] };

/** A mapping compiled once: a pure function from a source payload to canonical records. */
export type CompiledMapping = {
  name: string;
  version: number;
  apply(payload: unknown): MappingResult;
};

type Scope = { item: unknown; root: unknown };
type Getter = (scope: Scope) => unknown;

function readPath(target: unknown, path: string): unknown {
  if (target === null || typeof target !== 'object') return undefined;
  // A flat key that itself contains dots or brackets (form posts: "data[FIELDS][ID]") wins.
  if (Object.prototype.hasOwnProperty.call(target, path)) return (target as Record<string, unknown>)[path];
  let current: unknown = target;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function pathGetter(path: string): Getter {
  if (path === '$') return (s) => s.root;
  if (path.startsWith('$.')) {
    const rest = path.slice(2);
    return (s) => readPath(s.root, rest);
  }
  return (s) => readPath(s.item, path);
}

function withTransforms(get: Getter, transforms: readonly TransformStep[] | undefined): Getter {
  if (!transforms || transforms.length === 0) return get;
  return (scope) => transforms.reduce<unknown>((value, step) => applyTransform(step, value), get(scope));
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && !(typeof value === 'string' && value.trim() === '');
}

function compileExpr(expr: unknown): Getter {
  if (typeof expr === 'string') return pathGetter(expr);
  const e = expr as Record<string, unknown>;
  const transforms = e['transforms'] as TransformStep[] | undefined;
  if ('const' in e) return () => e['const'];
  if ('path' in e) {
    const get = withTransforms(pathGetter(String(e['path'])), transforms);
    return 'default' in e ? (s) => (present(get(s)) ? get(s) : e['default']) : get;
  }
  if ('template' in e) {
    const parts = String(e['template']).split(/(\{[^}]+\})/);
    // Literal parts are kept as written (a lone space between two fields too); missing fields render as nothing.
    const getters = parts.map((p): Getter => {
      if (!(p.startsWith('{') && p.endsWith('}'))) return () => p;
      const get = pathGetter(p.slice(1, -1));
      return (s) => {
        const v = get(s);
        return present(v) ? String(v) : '';
      };
    });
    const render: Getter = (s) => {
      const text = getters.map((g) => g(s)).join('').replace(/\s+/g, ' ').trim();
      return text === '' ? undefined : text;
    };
    return withTransforms(render, transforms);
  }
  const options = (e['first'] as unknown[]).map(compileExpr);
  return withTransforms((s) => {
    for (const option of options) {
      const v = option(s);
      if (present(v)) return v;
    }
    return undefined;
  }, transforms);
}

function compileMap(map: Record<string, unknown> | undefined): (s: Scope) => Record<string, unknown> | undefined {
  if (!map) return () => undefined;
  const entries = Object.entries(map).map(([k, v]) => [k, compileExpr(v)] as const);
  return (s) => {
    const out: Record<string, unknown> = {};
    for (const [k, get] of entries) {
      const v = get(s);
      if (present(v)) out[k] = v;
    }
    return out;
  };
}

function compileList(list: unknown[] | undefined): (s: Scope) => string[] {
  const getters = (list ?? []).map(compileExpr);
  return (s) =>
    getters.flatMap((g) => {
      const v = g(s);
      const values = Array.isArray(v) ? v : [v];
      return values.filter(present).map(String);
    });
}

function compileTemplate(t: RecordTemplate) {
  const source = compileExpr(t.source);
  const sourceId = compileExpr(t.sourceId);
  const occurredAt = t.occurredAt === undefined ? () => undefined : compileExpr(t.occurredAt);
  const emails = compileList(t.identifiers?.emails);
  const phones = compileList(t.identifiers?.phones);
  const ids = compileMap(t.identifiers?.ids);
  const traits = compileMap(t.traits);
  const interaction = compileMap(t.interaction);
  const when = t.when ? pathGetter(t.when) : null;
  const each = t.each ? pathGetter(t.each) : null;

  return (payload: unknown): Record<string, unknown>[] => {
    const items = each ? each({ item: payload, root: payload }) : payload;
    const list = each ? (Array.isArray(items) ? items : []) : [payload];
    return list.flatMap((item) => {
      const scope = { item, root: payload };
      if (when && !present(when(scope))) return [];
      const record: Record<string, unknown> = { kind: t.kind, source: source(scope), sourceId: sourceId(scope) };
      if (typeof record['sourceId'] === 'number') record['sourceId'] = String(record['sourceId']);
      const at = occurredAt(scope);
      if (present(at)) record['occurredAt'] = at;
      const identifiers: Record<string, unknown> = {};
      const e = emails(scope);
      const p = phones(scope);
      const i = ids(scope) ?? {};
      if (e.length > 0) identifiers['emails'] = e;
      if (p.length > 0) identifiers['phones'] = p;
      if (Object.keys(i).length > 0) identifiers['ids'] = Object.fromEntries(Object.entries(i).map(([k, v]) => [k, String(v)]));
      if (Object.keys(identifiers).length > 0) record['identifiers'] = identifiers;
      const tr = traits(scope);
      if (tr && Object.keys(tr).length > 0) record['traits'] = tr;
      const inter = interaction(scope);
      if (t.kind === 'interaction' && inter) record['interaction'] = inter;
      return [record];
    });
  };
}

/** Compiles a mapping document into a pure function; its output is validated like records sent to the API. */
export function compileMapping(doc: MappingDocument): CompiledMapping {
  const templates = doc.records.map(compileTemplate);
  return {
    name: doc.name,
    version: doc.version,
    apply(payload) {
      const produced = templates.flatMap((t) => t(payload));
      if (produced.length === 0) return { records: [], errors: [] };
      const checked = validateRecordsBody({ records: produced });
      if ('value' in checked) return { records: checked.value, errors: [] };
      return { records: [], errors: checked.error.errors ?? [{ path: '/', message: checked.error.message }] };
    },
  };
}
