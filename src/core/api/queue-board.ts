import type { FastifyInstance } from 'fastify';
import type { Queue } from 'bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { authorize, type KeyRing } from './auth.js';
import { HubError } from '../errors.js';
import { sendProblem, toProblem } from './problem.js';

export const BOARD_PATH = '/admin/queues';

/** The BullMQ dashboard for operations staff: admin key as Bearer token or as Basic-auth password. */
export async function queueBoard(fastify: FastifyInstance, deps: { queues: readonly Queue[]; keys: KeyRing }) {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({ queues: deps.queues.map((q) => new BullMQAdapter(q)), serverAdapter, options: { uiConfig: { boardTitle: 'crm-hub queues' } } });

  await fastify.register(
    async (board) => {
      // The hub-wide key check lets these routes through; this plugin checks the key itself, since
      // it also takes the key as a Basic-auth password.
      board.addHook('onRoute', (route) => {
        route.config = { ...route.config, access: 'public' };
      });
      // The dashboard's own error handler would turn a thrown auth error into a 500: answer here.
      board.addHook('onRequest', async (request, reply) => {
        try {
          request.apiKey = authorize(deps.keys, request, 'admin', true);
        } catch (err) {
          if (err instanceof HubError && err.status === 401) reply.header('www-authenticate', 'Basic realm="crm-hub queues", charset="UTF-8"');
          return sendProblem(reply, toProblem(err, request));
        }
      });
      await board.register(serverAdapter.registerPlugin());
    },
    { prefix: BOARD_PATH },
  );
}
