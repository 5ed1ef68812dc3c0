import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import type { ProfileStore } from '../store/profile.store.js';
import type { ReceivedRecord } from '../record.schema.js';

/**
 * Re-resolution: every record placed again under the current rules, in arrival order, linking only
 * to records this run has already placed, so the clusters come out as fresh ingestion would make
 * them. Runs in chunks, each one resolve transaction with the usual locks, so ingestion goes on
 * meanwhile; the run's progress is kept in resolve_runs, and a stopped run resumes. Records that
 * arrive or change during the run are placed by a last pass.
 */
export type ReresolveOutcome = { run: number; records: number; resumed: boolean };

type Row = {
  source: string;
  source_id: string;
  kind: 'contact' | 'interaction';
  occurred_at: Date;
  received_at: Date;
  identifiers: ReceivedRecord['identifiers'];
  traits: ReceivedRecord['traits'];
  interaction: ReceivedRecord['interaction'] | null;
};

function asRecord(row: Row): ReceivedRecord {
  return {
    source: row.source,
    sourceId: row.source_id,
    kind: row.kind,
    occurredAt: new Date(row.occurred_at).toISOString(),
    receivedAt: new Date(row.received_at).toISOString(),
    identifiers: row.identifiers,
    traits: row.traits,
    ...(row.interaction ? { interaction: row.interaction } : {}),
  };
}

export async function reresolveAll(db: Db, store: Pick<ProfileStore, 'resolveBatch'>, options: { chunk: number; log: Logger }): Promise<ReresolveOutcome> {
  const open = (await db.query<{ id: number; cursor: [string, string, string] | null; records: string }>('SELECT id, cursor, records FROM resolve_runs WHERE finished_at IS NULL ORDER BY id DESC LIMIT 1')).rows[0];
  const run = open ? open.id : ((await db.query<{ id: number }>('INSERT INTO resolve_runs DEFAULT VALUES RETURNING id')).rows[0]?.id ?? 0);
  let cursor = open?.cursor ?? null;
  let records = Number(open?.records ?? 0);
  options.log.info({ run, resumed: open !== undefined, cursor }, open ? 'resuming re-resolution' : 'starting re-resolution');
  for (;;) {
    const rows = (
      await db.query<Row>(
        `SELECT source, source_id, kind, occurred_at, received_at, identifiers, traits, interaction FROM records
          WHERE resolve_run IS DISTINCT FROM $1 ${cursor ? 'AND (received_at, source, source_id) > ($2::timestamptz, $3, $4)' : ''}
          ORDER BY received_at, source, source_id LIMIT ${Number(options.chunk)}`,
        cursor ? [run, ...cursor] : [run],
      )
    ).rows;
    if (rows.length === 0) {
      // The end of arrival order; records that came or changed behind the cursor get one more pass.
      if (cursor === null) break;
      cursor = null;
      continue;
    }
    await store.resolveBatch(rows.map(asRecord), 're-resolution', run);
    const last = rows[rows.length - 1] as Row;
    cursor = [new Date(last.received_at).toISOString(), last.source, last.source_id];
    records += rows.length;
    await db.query('UPDATE resolve_runs SET cursor = $2::jsonb, records = $3 WHERE id = $1', [run, JSON.stringify(cursor), records]);
    options.log.info({ run, records }, 're-resolution progress');
  }
  await db.query('UPDATE resolve_runs SET finished_at = now(), cursor = NULL WHERE id = $1', [run]);
  options.log.info({ run, records }, 're-resolution finished');
  return { run, records, resumed: open !== undefined };
}
