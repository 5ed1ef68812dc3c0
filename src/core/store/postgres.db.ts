import pg from 'pg';
import type { Db, Sql } from './db.js';
import { HubError } from '../errors.js';

// pg raises DatabaseError (with a SQLSTATE) for what the server refused; anything else from a
// query or a connect is the connection itself failing, which is an outage, not bad data.
function classify(err: unknown): unknown {
  if (err instanceof pg.DatabaseError || err instanceof HubError) return err;
  return new HubError('STORE_UNAVAILABLE', `PostgreSQL is not reachable: ${(err as Error).message}`, { cause: err });
}

export type PostgresOptions = {
  connectionString: string;
  /** Tables live in this schema (created if missing); tests use one schema per run. */
  schema?: string;
  max?: number;
};

/** Every connection of the hub's says so in pg_stat_activity: the report fold waits only for the hub's own transactions. */
export const APPLICATION_NAME = 'crm-hub';

const JSON_OID = 114;
const JSONB_OID = 3802;
const asText = (value: string) => value;
const jsonAsText: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === JSON_OID || oid === JSONB_OID ? asText : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

export function createPostgresDb(options: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    application_name: APPLICATION_NAME,
    max: options.max ?? 20,
    connectionTimeoutMillis: 5000,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  });
  // An idle client that loses its server emits 'error'; without a listener that kills the process.
  pool.on('error', () => undefined);
  let closing: Promise<void> | undefined;

  const query: Sql['query'] = async (text, params, options) => {
    try {
      const config = options ? { name: options.name, text, values: params, ...(options.jsonAsText ? { types: jsonAsText } : {}) } : { text, values: params };
      return { rows: (await pool.query(config)).rows };
    } catch (err) {
      throw classify(err);
    }
  };

  return {
    kind: 'postgres',
    query,
    async exec(text) {
      await query(text);
    },
    async transaction(fn) {
      const client = await pool.connect().catch((err: unknown) => {
        throw classify(err);
      });
      // A checked-out client has no pool listener: a connection lost between two queries of the
      // transaction would emit 'error' unheard and crash the process. Keep it, fail the
      // transaction's next query (pg does), and destroy the client on release.
      let lost: Error | undefined;
      const onLost = (err: Error) => {
        lost ??= err;
      };
      client.on('error', onLost);
      try {
        await client.query('BEGIN');
        const tx: Sql = {
          query: async (text, params) => ({ rows: (await client.query(text, params)).rows }),
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw classify(err);
      } finally {
        client.off('error', onLost);
        client.release(lost);
      }
    },
    close() {
      closing ??= pool.end();
      return closing;
    },
  };
}
