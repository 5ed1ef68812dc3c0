import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HubMetrics } from '../metrics/metrics.js';
import { metricsRoutes } from '../metrics/metrics.routes.js';
import { createBaseApp } from './app.js';
import type { KeyRing } from './auth.js';
import { healthRoutes, type ReadinessCheck } from './routes/health.routes.js';

export type OperationsAppDeps = {
  checks: readonly ReadinessCheck[];
  log: Logger;
  metrics: HubMetrics;
  keys: KeyRing;
  /** metrics.requireKey */
  requireKey: boolean;
};

/**
 * What a `--role worker` process serves over HTTP: /health, /ready and its own /metrics (the
 * records it processed and failed, their latency), which no API process can report for it.
 */
export async function buildOperationsApp(deps: OperationsAppDeps): Promise<FastifyInstance> {
  const app = createBaseApp(deps.log, deps.metrics);
  await app.register(healthRoutes, { checks: deps.checks });
  await app.register(metricsRoutes, { metrics: deps.metrics, keys: deps.keys, requireKey: deps.requireKey });
  return app;
}
