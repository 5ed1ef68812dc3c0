import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { Type } from 'typebox';
import { presentedKey, type KeyRing } from '../api/auth.js';
import { HubError } from '../errors.js';
import type { HubMetrics } from './metrics.js';

export type MetricsRouteDeps = { metrics: HubMetrics; keys: KeyRing; requireKey: boolean };

/**
 * GET /metrics in the Prometheus text format. Public by default, as scrapers usually carry no
 * token; with `metrics.requireKey` any valid API key is asked for (whatever its scopes: give the
 * scraper a key of its own, e.g. with only the `ingest` scope, rather than a reading one).
 */
export async function metricsRoutes(app: FastifyInstance, deps: MetricsRouteDeps) {
  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        description: deps.requireKey ? 'Needs any valid API key (metrics.requireKey).' : 'Public (set metrics.requireKey to ask for a key).',
        produces: ['text/plain'],
        response: { 200: Type.String(), 401: Type.Ref('Problem') },
      },
    },
    async (request, reply) => {
      if (deps.requireKey) {
        const token = presentedKey(request, false);
        if (!token || !deps.keys.verify(token)) throw new HubError('UNAUTHORIZED', 'metrics need an API key: send "Authorization: Bearer <key>"');
      }
      const text = await deps.metrics.registry.metrics();
      return reply.type(deps.metrics.registry.contentType).send(text);
    },
  );
}

/**
 * onResponse hook: counts every request by its route pattern (never the raw URL, which would
 * explode the label set). A callback hook: an async one costs a promise per request.
 */
export function httpMetricsHook(metrics: HubMetrics) {
  return function observe(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched');
    metrics.httpRequests.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  };
}
