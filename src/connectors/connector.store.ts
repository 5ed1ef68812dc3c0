import type { Db } from '../core/store/db.js';

export type ConnectorStateRow = {
  connectorId: string;
  checkpoint: unknown;
  lastRunAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  received: number;
  processed: number;
  failed: number;
};

type Row = {
  connector_id: string;
  checkpoint: unknown;
  last_run_at: Date | null;
  last_error: string | null;
  last_error_at: Date | null;
  received: string | number;
  processed: string | number;
  failed: string | number;
};

function fromRow(r: Row): ConnectorStateRow {
  return {
    connectorId: r.connector_id,
    checkpoint: r.checkpoint,
    lastRunAt: r.last_run_at ? r.last_run_at.toISOString() : null,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at ? r.last_error_at.toISOString() : null,
    received: Number(r.received),
    processed: Number(r.processed),
    failed: Number(r.failed),
  };
}

const UPSERT_PREFIX = 'INSERT INTO connector_state (connector_id) VALUES ($1) ON CONFLICT (connector_id) DO NOTHING';

/** Checkpoints and counters of the connectors, in the profile store's database. */
export function createConnectorStore(db: Db) {
  return {
    async get(connectorId: string): Promise<ConnectorStateRow | null> {
      const row = (await db.query<Row>('SELECT * FROM connector_state WHERE connector_id = $1', [connectorId])).rows[0];
      return row ? fromRow(row) : null;
    },
    async list(): Promise<Map<string, ConnectorStateRow>> {
      const rows = (await db.query<Row>('SELECT * FROM connector_state')).rows;
      return new Map(rows.map((r) => [r.connector_id, fromRow(r)]));
    },
    async saveCheckpoint(connectorId: string, checkpoint: unknown): Promise<void> {
      await db.query(UPSERT_PREFIX, [connectorId]);
      await db.query('UPDATE connector_state SET checkpoint = $2::jsonb, updated_at = now() WHERE connector_id = $1', [connectorId, JSON.stringify(checkpoint)]);
    },
    async count(connectorId: string, delta: { received?: number; processed?: number; failed?: number }): Promise<void> {
      await db.query(UPSERT_PREFIX, [connectorId]);
      await db.query(
        'UPDATE connector_state SET received = received + $2, processed = processed + $3, failed = failed + $4, updated_at = now() WHERE connector_id = $1',
        [connectorId, delta.received ?? 0, delta.processed ?? 0, delta.failed ?? 0],
      );
    },
    /** Notes a run (a poll, or a processed event): its time, and its error or that it had none. */
    async ran(connectorId: string, error: string | null): Promise<void> {
      await db.query(UPSERT_PREFIX, [connectorId]);
      await db.query(
        `UPDATE connector_state SET last_run_at = now(), updated_at = now(),
                last_error = COALESCE($2, last_error), last_error_at = CASE WHEN $2::text IS NULL THEN last_error_at ELSE now() END
          WHERE connector_id = $1`,
        [connectorId, error],
      );
    },
  };
}

export type ConnectorStore = ReturnType<typeof createConnectorStore>;
