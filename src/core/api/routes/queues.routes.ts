import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Queue } from 'bullmq';
import { HubError } from '../../errors.js';
import { authErrors, notFound } from '../schemas.js';

const Counts = Type.Object({
  name: Type.String(),
  waiting: Type.Integer(),
  active: Type.Integer(),
  delayed: Type.Integer(),
  failed: Type.Integer(),
  completed: Type.Integer(),
});

async function countsOf(queue: Queue) {
  const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
  return {
    name: queue.name,
    waiting: (c['waiting'] ?? 0) + (c['prioritized'] ?? 0),
    active: c['active'] ?? 0,
    delayed: c['delayed'] ?? 0,
    failed: c['failed'] ?? 0,
    completed: c['completed'] ?? 0,
  };
}

export async function queuesRoutes(fastify: FastifyInstance, deps: { queues: readonly Queue[] }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const byName = new Map(deps.queues.map((q) => [q.name, q]));

  app.get(
    '/v1/queues',
    {
      config: { access: 'admin' },
      schema: { tags: ['operations'], summary: 'Job counts per pipeline queue', response: { 200: Type.Object({ data: Type.Array(Counts) }), ...authErrors } },
    },
    async () => ({ data: await Promise.all(deps.queues.map(countsOf)) }),
  );

  app.post(
    '/v1/queues/:name/retry-failed',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'Replay every job in the failed set (the dead letters) of a queue',
        params: Type.Object({ name: Type.String({ maxLength: 100 }) }),
        response: { 200: Type.Object({ retried: Type.Integer() }), ...authErrors, ...notFound },
      },
    },
    async (request) => {
      const queue = byName.get(request.params.name);
      if (!queue) throw new HubError('NOT_FOUND', `no queue "${request.params.name}"; there are: ${[...byName.keys()].join(', ')}`);
      const failed = await queue.getFailedCount();
      await queue.retryJobs({ state: 'failed', count: 1000 });
      return { retried: failed };
    },
  );
}
