// The reference for reads: a bare Fastify server doing each lookup as one query through a `pg`
// Pool of the same size as the hub's, in its own process. Started by run.ts with fork().
//   env: BENCH_SCHEMA, DATABASE_URL   → IPC { type: 'ready', port }; stops on 'stop' or disconnect
//   GET /hello                 hello world
//   GET /profiles/:id          the profile row by primary key
//   GET /profiles?email=       the live profiles linked to an email (trimmed, lowercased)
import Fastify from 'fastify';
import pg from 'pg';
import { DATABASE_URL } from '../test/support/env.js';

const schema = process.env['BENCH_SCHEMA'];
if (!schema) throw new Error('BENCH_SCHEMA is required');
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 20, options: `-c search_path=${schema}` });
pool.on('error', () => undefined);

const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));
app.get<{ Params: { id: string } }>('/profiles/:id', async (request, reply) => {
  const row = (await pool.query('SELECT id, traits, trait_sources, created_at, updated_at FROM profiles WHERE id = $1 AND merged_into IS NULL', [request.params.id])).rows[0] as
    | Record<string, unknown>
    | undefined;
  if (!row) return reply.code(404).send({ error: 'not found' });
  return row;
});
app.get<{ Querystring: { email?: string } }>('/profiles', async (request) => {
  const email = (request.query.email ?? '').trim().toLowerCase();
  const rows = (
    await pool.query(
      `SELECT p.id, p.traits, p.created_at, p.updated_at FROM profiles p
        WHERE p.merged_into IS NULL AND p.id IN (SELECT r.profile_id FROM record_identifiers ri
              JOIN records r ON r.source = ri.source AND r.source_id = ri.source_id WHERE ri.type = 'email' AND ri.value = $1)
        ORDER BY p.updated_at, p.id LIMIT 51`,
      [email],
    )
  ).rows;
  return { data: rows };
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
