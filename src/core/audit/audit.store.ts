import type { Sql } from '../store/db.js';
import { HubError } from '../errors.js';

/** One audited request, as it is written. */
export type AuditEntryInput = {
  actor: string;
  keyFingerprint: string | null;
  method: string;
  route: string;
  params: Record<string, unknown>;
  status: number;
  summary: string;
  detail: Record<string, unknown> | null;
  ip: string | null;
  profileIds: string[];
};

export type AuditEntry = Omit<AuditEntryInput, 'profileIds'> & { id: string; at: string; action: string; profileIds: string[] };

export type AuditFilter = { limit: number; cursor?: string; actor?: string; action?: string };

type Row = {
  id: string;
  at: Date;
  actor: string;
  key_fingerprint: string | null;
  action: string;
  method: string;
  route: string;
  params: Record<string, unknown>;
  status: number;
  summary: string;
  detail: Record<string, unknown> | null;
  ip: string | null;
  profile_ids: string[];
};

const COLUMNS = 'id::text AS id, at, actor, key_fingerprint, action, method, route, params, status, summary, detail, ip, profile_ids';

/** The action name an entry is filtered by: the method and the route pattern, e.g. `DELETE /v1/profiles/:id`. */
export function actionOf(method: string, route: string): string {
  return `${method} ${route}`;
}

function toEntry(row: Row): AuditEntry {
  return {
    id: row.id,
    at: row.at instanceof Date ? row.at.toISOString() : new Date(String(row.at)).toISOString(),
    actor: row.actor,
    keyFingerprint: row.key_fingerprint,
    action: row.action,
    method: row.method,
    route: row.route,
    params: row.params,
    status: row.status,
    summary: row.summary,
    detail: row.detail,
    ip: row.ip,
    profileIds: row.profile_ids,
  };
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[1-9][0-9]{0,18}$/.test(id)) {
    throw new HubError('VALIDATION', 'cursor is not one this API returned', { errors: [{ path: '/querystring/cursor', message: 'invalid cursor' }] });
  }
  return id;
}

export function createAuditStore(db: Sql) {
  async function append(entry: AuditEntryInput): Promise<void> {
    await db.query(
      `INSERT INTO audit_log (actor, key_fingerprint, action, method, route, params, status, summary, detail, ip, profile_ids)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9::jsonb, $10, $11::text[])`,
      [
        entry.actor,
        entry.keyFingerprint,
        actionOf(entry.method, entry.route),
        entry.method,
        entry.route,
        JSON.stringify(entry.params),
        entry.status,
        entry.summary,
        entry.detail === null ? null : JSON.stringify(entry.detail),
        entry.ip,
        entry.profileIds,
      ],
    );
  }

  /** Newest first; the cursor is the last id of the previous page. */
  async function list(filter: AuditFilter): Promise<{ data: AuditEntry[]; nextCursor: string | null }> {
    const params: unknown[] = [];
    const where: string[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.actor !== undefined) where.push(`actor = ${param(filter.actor)}`);
    if (filter.action !== undefined) where.push(`action = ${param(filter.action)}`);
    if (filter.cursor !== undefined) where.push(`id < ${param(decodeCursor(filter.cursor))}::bigint`);
    const rows = (
      await db.query<Row>(
        `SELECT ${COLUMNS} FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY audit_log.id DESC LIMIT ${param(filter.limit + 1)}`,
        params,
      )
    ).rows;
    const page = rows.slice(0, filter.limit);
    const last = page[page.length - 1];
    return { data: page.map(toEntry), nextCursor: rows.length > filter.limit && last ? Buffer.from(last.id).toString('base64url') : null };
  }

  /** Every entry about any of these profiles, oldest first (for a person's export). */
  async function aboutProfiles(profileIds: readonly string[]): Promise<AuditEntry[]> {
    const rows = (await db.query<Row>(`SELECT ${COLUMNS} FROM audit_log WHERE profile_ids && $1::text[] ORDER BY audit_log.id`, [profileIds])).rows;
    return rows.map(toEntry);
  }

  return { append, list, aboutProfiles };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
