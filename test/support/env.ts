/** The services the tests talk to; .ci/run and the README set them up. */
export const DATABASE_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

export type StoreKind = 'pglite' | 'postgres';
/** Every store test runs on both stores. */
export const STORES: readonly StoreKind[] = ['pglite', 'postgres'];
