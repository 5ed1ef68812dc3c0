import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { sendProblem } from '../problem.js';

export type ReadinessCheck = { name: string; check(): Promise<void> };

const CHECK_TIMEOUT_MS = 2000;

async function run(check: ReadinessCheck): Promise<{ name: string; ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check.check(), timeout]);
    return { name: check.name, ok: true };
  } catch (err) {
    return { name: check.name, ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export async function healthRoutes(fastify: FastifyInstance, deps: { checks: readonly ReadinessCheck[] }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/health',
    { config: { access: 'public' }, schema: { tags: ['operations'], summary: 'The process is alive', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/ready',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Redis and the store answer',
        response: { 200: Type.Object({ status: Type.Literal('ready'), checks: Type.Array(Type.Object({ name: Type.String(), ok: Type.Boolean() })) }), 503: Type.Ref('Problem') },
      },
    },
    async (_request, reply) => {
      const results = await Promise.all(deps.checks.map(run));
      const failing = results.filter((r) => !r.ok);
      if (failing.length > 0) {
        return sendProblem(reply, {
          type: 'https://crm-hub.dev/problems/not-ready',
          title: 'Not ready',
          status: 503,
          detail: failing.map((f) => `${f.name}: ${f.error}`).join('; '),
        });
      }
      return { status: 'ready' as const, checks: results.map((r) => ({ name: r.name, ok: r.ok })) };
    },
  );
}
