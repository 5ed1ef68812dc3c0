import type { TransformStep } from './mapping.schema.js';

// Russian patronymics end so; with one, a three-word name is "Surname Given Patronymic" (the 1C order).
const PATRONYMIC = /(вич|вна|чна|ична|оглы|кызы)$/i;

function words(value: unknown): string[] {
  return typeof value === 'string' ? value.trim().split(/\s+/).filter(Boolean) : [];
}

function splitName(value: unknown): { first?: string; last?: string } {
  const w = words(value);
  if (w.length === 0) return {};
  if (w.length === 1) return { first: w[0] };
  if (w.length === 3 && PATRONYMIC.test(w[2] ?? '')) return { first: w[1], last: w[0] };
  return { first: w[0], last: w.slice(1).join(' ') };
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  // "1 200,50" (Russian) and "1,200.50" both mean 1200.5.
  const compact = value.replace(/[\s\u00a0]/g, '');
  const normalized = /,\d{1,2}$/.test(compact) && !compact.includes('.') ? compact.replace(/\./g, '').replace(',', '.') : compact.replace(/,/g, '');
  if (normalized === '' || !/^[-+]?\d*\.?\d+(e[-+]?\d+)?$/i.test(normalized)) return undefined;
  return Number(normalized);
}

const DMY = /^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/;
const YMD_SPACE = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?$/;

/** ISO-8601 UTC from the date forms sources use; a date without a zone is taken as UTC. */
export function parseDate(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  const dmy = DMY.exec(text);
  if (dmy) {
    const [, d, m, y, hh = '0', mm = '0', ss = '0'] = dmy;
    return new Date(Date.UTC(Number(y), Number(m) - 1, Number(d), Number(hh), Number(mm), Number(ss))).toISOString();
  }
  const ymd = YMD_SPACE.exec(text);
  if (ymd) {
    const [, y, m, d, hh, mm, ss = '0'] = ymd;
    return new Date(Date.UTC(Number(y), Number(m) - 1, Number(d), Number(hh), Number(mm), Number(ss))).toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return new Date(`${text}T00:00:00Z`).toISOString();
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? undefined : new Date(parsed).toISOString();
}

function fromEpoch(value: unknown, unit: number): string | undefined {
  const n = toNumber(value);
  if (n === undefined) return undefined;
  const date = new Date(n * unit);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '') || (Array.isArray(value) && value.length === 0);
}

/** Applies one named transform; undefined means "no value". */
export function applyTransform(step: TransformStep, value: unknown): unknown {
  if (value === undefined || value === null) return undefined;
  if (typeof step === 'object') {
    if ('lookup' in step) return step.lookup[String(value)] ?? step.default;
    if ('split' in step) return String(value).split(step.split)[step.index ?? 0];
    return `${step.prefix}${String(value)}`;
  }
  switch (step) {
    case 'trim':
      return typeof value === 'string' ? value.trim() : value;
    case 'lowercase':
      return typeof value === 'string' ? value.toLowerCase() : value;
    case 'uppercase':
      return typeof value === 'string' ? value.toUpperCase() : value;
    case 'string':
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    case 'number':
      return toNumber(value);
    case 'integer': {
      const n = toNumber(value);
      return n === undefined ? undefined : Math.trunc(n);
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (/^(1|true|yes|y|да|on)$/i.test(String(value).trim())) return true;
      if (/^(0|false|no|n|нет|off)$/i.test(String(value).trim())) return false;
      return undefined;
    case 'date':
      return parseDate(value);
    case 'unixSeconds':
      return fromEpoch(value, 1000);
    case 'unixMillis':
      return fromEpoch(value, 1);
    case 'digits':
      return String(value).replace(/\D/g, '') || undefined;
    case 'firstName':
      return splitName(value).first;
    case 'lastName':
      return splitName(value).last;
    case 'nonEmpty':
      return isEmpty(value) ? undefined : value;
    case 'falseAsEmpty':
      // Odoo's ORM answers false, not null, for an empty text, date or relation field.
      return value === false ? undefined : value;
  }
}
