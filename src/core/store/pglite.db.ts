import { mkdirSync } from 'node:fs';
import { PGlite, types } from '@electric-sql/pglite';
import type { Db, Sql } from './db.js';

const asText = (value: string) => value;
const JSON_AS_TEXT = { parsers: { [types.JSON]: asText, [types.JSONB]: asText } };

/** Embedded PostgreSQL (WebAssembly) in `dataDir`, or in memory when it is undefined. One process only. */
export async function createPgliteDb(dataDir?: string): Promise<Db> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const lite = dataDir ? await PGlite.create(dataDir) : await PGlite.create();
  let closing: Promise<void> | undefined;

  const query: Sql['query'] = async (text, params, options) => {
    const result = await lite.query(text, params, options?.jsonAsText ? JSON_AS_TEXT : undefined);
    return { rows: result.rows as never[] };
  };

  return {
    kind: 'pglite',
    query,
    async exec(text) {
      await lite.exec(text);
    },
    transaction(fn) {
      return lite.transaction(async (t) => fn({ query: async (text, params) => ({ rows: (await t.query(text, params)).rows as never[] }) }));
    },
    close() {
      closing ??= lite.close();
      return closing;
    },
  };
}
