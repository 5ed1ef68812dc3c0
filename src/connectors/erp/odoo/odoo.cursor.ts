import { Type, type Static } from 'typebox';
import { checker } from '../../rest-poller/poller-support.js';

/** The Odoo models the connector polls, in the order it pages through them. */
export const ODOO_MODELS = ['res.partner', 'account.move'] as const;
export type OdooModel = (typeof ODOO_MODELS)[number];

const WRITE_DATE = '^\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}$';
/** Odoo's datetime as search_read gives it: naive UTC, to the second. */
export const WriteDateSchema = Type.String({ pattern: WRITE_DATE });

/**
 * Where one model stands: every record last written in a second before `writeDate`, and every
 * record written in that second with an id up to `id`, has been queued.
 */
export const ModelCursorSchema = Type.Object({ writeDate: WriteDateSchema, id: Type.Integer({ minimum: 0 }) }, { additionalProperties: false });
export type ModelCursor = Static<typeof ModelCursorSchema>;

/** Both models' cursors in one object, and the model the current poll is paging through. */
export const OdooCheckpointSchema = Type.Object(
  {
    v: Type.Literal(1),
    model: Type.Enum(ODOO_MODELS),
    cursors: Type.Object({ 'res.partner': Type.Optional(ModelCursorSchema), 'account.move': Type.Optional(ModelCursorSchema) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type OdooCheckpoint = Static<typeof OdooCheckpointSchema>;

const isCheckpoint = checker(OdooCheckpointSchema);

/** A checkpoint read back from the store, or null when it is not one this connector wrote. */
export function readOdooCheckpoint(value: unknown): OdooCheckpoint | null {
  return isCheckpoint(value) ? value : null;
}

/** What every row the poller reads must have; the rest is the mapping's business. */
export const OdooRowSchema = Type.Object({ id: Type.Integer({ minimum: 1 }), write_date: WriteDateSchema });
export type OdooRow = Static<typeof OdooRowSchema> & Record<string, unknown>;

/** One leaf of an Odoo domain, and a search_read's domain, order and limit. */
export type OdooTerm = [string, string, unknown];
export type OdooSearch = { domain: OdooTerm[]; order: string; limit: number };

/** 'YYYY-MM-DD HH:MM:SS' one second later (Odoo datetimes are naive UTC). */
export function nextSecond(writeDate: string): string {
  const t = Date.parse(`${writeDate.replace(' ', 'T')}Z`) + 1000;
  return new Date(t).toISOString().slice(0, 19).replace('T', ' ');
}

/*
 * Why not the single domain `["|",["write_date",">",ts],"&",["write_date","=",ts],["id",">",id]]`
 * with `order: "write_date asc, id asc"`: Odoo stamps write_date with the transaction's
 * `now() at time zone 'UTC'` (odoo/sql_db.py `Cursor.now`), microseconds included, but search_read
 * gives it back cut to the second. So `write_date = ts` misses what it should match, `> ts`
 * matches the rest of that second again, and after a mass write (thousands of rows, one
 * transaction, one timestamp) a full page never moves the cursor: the poller would read the same
 * page forever. Treating the second as the unit fixes both: first finish the cursor's second in
 * id order, then read on from the next second in write_date order, and only take the seconds a
 * page holds completely.
 */

/** The first query of a step: the rest of the cursor's own second, in id order. */
export function sameSecondQuery(base: OdooTerm[], cursor: ModelCursor, limit: number): OdooSearch {
  return {
    domain: [...base, ['write_date', '>=', cursor.writeDate], ['write_date', '<', nextSecond(cursor.writeDate)], ['id', '>', cursor.id]],
    order: 'id asc',
    limit,
  };
}

/** The second query: everything from the second after the cursor's (or from `since`), oldest first. */
export function laterQuery(base: OdooTerm[], cursor: ModelCursor | undefined, since: string | undefined, limit: number): OdooSearch {
  const from = cursor ? nextSecond(cursor.writeDate) : since;
  return { domain: [...base, ...(from ? [['write_date', '>=', from] as OdooTerm] : [])], order: 'write_date asc, id asc', limit };
}

/** What one step through a model gives: the rows to emit, the cursor after them, and whether more wait. */
export type ModelStep = { rows: OdooRow[]; cursor: ModelCursor | undefined; more: boolean };

/** After the same-second query: its rows are all new, in id order; a full page means more of that second. */
export function afterSameSecond(cursor: ModelCursor, rows: OdooRow[], limit: number): ModelStep {
  const last = rows.at(-1);
  return { rows, cursor: last ? { writeDate: cursor.writeDate, id: Math.max(cursor.id, ...rows.map((r) => r.id)) } : cursor, more: rows.length >= limit };
}

/**
 * After the later query. A short page is everything there is: all of it is taken and the cursor
 * moves to its last second. A full page may end inside a second, so only the seconds before its
 * last one are taken; the last second is read again, whole, by the next same-second query.
 */
export function afterLater(cursor: ModelCursor | undefined, rows: OdooRow[], limit: number): ModelStep {
  const last = rows.at(-1);
  if (!last) return { rows: [], cursor, more: false };
  if (rows.length < limit) {
    const inLast = rows.filter((r) => r.write_date === last.write_date).map((r) => r.id);
    return { rows, cursor: { writeDate: last.write_date, id: Math.max(...inLast) }, more: false };
  }
  return { rows: rows.filter((r) => r.write_date < last.write_date), cursor: { writeDate: last.write_date, id: 0 }, more: true };
}

/** Why a page cannot be trusted (the server ignored the domain or the order), or null. */
export function pageProblem(rows: OdooRow[], query: 'same-second' | 'later', cursor: ModelCursor | undefined, since: string | undefined): string | null {
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i]!;
    const prev = rows[i - 1];
    if (query === 'same-second') {
      if (cursor && (row.write_date !== cursor.writeDate || row.id <= cursor.id)) return `row ${i} (id ${row.id}, write_date ${row.write_date}) is outside the second asked for`;
      if (prev && row.id <= prev.id) return `rows are not in id order at row ${i}`;
    } else {
      const from = cursor ? nextSecond(cursor.writeDate) : since;
      if (from && row.write_date < from) return `row ${i} (id ${row.id}, write_date ${row.write_date}) is older than asked for`;
      if (prev && row.write_date < prev.write_date) return `rows are not in write_date order at row ${i}`;
    }
  }
  return null;
}
