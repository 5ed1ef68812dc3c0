import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { createPostgresDb } from '../../src/core/store/postgres.db.js';
import { migrate } from '../../src/core/store/migrate.js';
import { DATABASE_URL, STORES } from '../support/env.js';
import { createTestDb } from '../support/hub.js';

const MIGRATIONS = readdirSync(new URL('../../src/core/store/migrations/', import.meta.url)).filter((f) => f.endsWith('.sql')).sort();

describe.each(STORES)('migrations on %s', (store) => {
  it('apply every numbered file once and nothing on a second run', async () => {
    const t = await createTestDb(store);
    try {
      expect(await migrate(t.db)).toEqual(MIGRATIONS);
      expect(await migrate(t.db)).toEqual([]);
      const versions = (await t.db.query<{ version: string }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
      expect(versions).toEqual(MIGRATIONS);
    } finally {
      await t.drop();
    }
  });
});

describe('migrations on postgres from two processes at once', () => {
  it('apply once while both start together', async () => {
    const t = await createTestDb('postgres');
    const other = createPostgresDb({ connectionString: DATABASE_URL, schema: t.schema ?? undefined });
    try {
      const [a, b] = await Promise.all([migrate(t.db), migrate(other)]);
      expect([...a, ...b].sort()).toEqual(MIGRATIONS);
      const versions = (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations')).rows[0]?.n;
      expect(versions).toBe(MIGRATIONS.length);
    } finally {
      await other.close();
      await t.drop();
    }
  });
});
