// The reference for reads: a bare Fastify server doing each lookup through a `pg` Pool of the same
// size as the hub's, in its own process, with none of the hub's machinery (no auth, security
// headers, audit, metrics, response schemas). It runs the hub's very statements (same text, same
// prepared name), so both sides do the same SQL work and return the same data, and handles their
// results the plain way: pg parses the JSON, Fastify prints it. Started by run.ts with fork().
//   env: BENCH_SCHEMA, DATABASE_URL   → IPC { type: 'ready', port }; stops on 'stop' or disconnect
//   GET /hello                 hello world
//   GET /profiles/:id          the live profile with its identifiers, records and stats
//   GET /profiles?email=       the live profiles linked to an email (trimmed, lowercased)
import Fastify from 'fastify';
import pg from 'pg';
import { DATABASE_URL } from '../test/support/env.js';
import { findProfilesQuery, PROFILE_QUERY } from '../src/core/store/profile.store.js';

const schema = process.env['BENCH_SCHEMA'];
if (!schema) throw new Error('BENCH_SCHEMA is required');
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 20, options: `-c search_path=${schema}` });
pool.on('error', () => undefined);

const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));
app.get<{ Params: { id: string } }>('/profiles/:id', async (request, reply) => {
  const row = (await pool.query({ name: PROFILE_QUERY.name, text: PROFILE_QUERY.text, values: [request.params.id] })).rows[0] as { profile: object | null } | undefined;
  if (!row?.profile) return reply.code(404).send({ error: 'not found' });
  return row.profile;
});
app.get<{ Querystring: { email?: string } }>('/profiles', async (request) => {
  const email = (request.query.email ?? '').trim().toLowerCase();
  const query = findProfilesQuery({ identifier: { type: 'email', value: email }, limit: 50 });
  return { data: (await pool.query({ name: query.name, text: query.text, values: query.params })).rows.slice(0, 50).map((row: { profile: object }) => row.profile) };
});

await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.send?.({ type: 'ready', port: typeof address === 'object' && address ? address.port : null });
async function stop(): Promise<void> {
  await app.close();
  await pool.end();
  process.exit(0);
}
process.on('message', (message: { type: string }) => {
  if (message.type === 'stop') void stop();
});
process.on('disconnect', () => void stop());
