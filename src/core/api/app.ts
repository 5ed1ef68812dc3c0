import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import rateLimit from '@fastify/rate-limit';
import type { HubConfig } from '../config/config.schema.js';
import { HubError } from '../errors.js';
import { createAuthHook, type KeyRing } from './auth.js';
import { sendClientErrorProblem, sendProblem, toProblem } from './problem.js';
import { ProblemSchema } from './schemas.js';
import { MappingSchema } from '../../mappings/mapping.schema.js';
import { recordsRoutes } from './routes/records.routes.js';
import { profilesRoutes } from './routes/profiles.routes.js';
import { queuesRoutes } from './routes/queues.routes.js';
import { healthRoutes, type ReadinessCheck } from './routes/health.routes.js';
import { queueBoard, BOARD_PATH } from './queue-board.js';
import { formRoutes } from '../../connectors/forms/form.routes.js';
import type { IngestQueue } from '../pipeline/ingest.queue.js';
import { connectorRoutes } from '../../connectors/connectors.routes.js';
import type { ConnectorRuntime } from '../../connectors/runtime.js';
import type { ProfileStore } from '../store/profile.store.js';
import type { CurationStore } from '../store/curation.store.js';
import { identityRoutes } from './routes/identity.routes.js';
import type { HubMetrics } from '../metrics/metrics.js';
import { httpMetricsHook, metricsRoutes } from '../metrics/metrics.routes.js';
import type { ReportsStore } from '../reports/reports.store.js';
import { reportsRoutes } from './routes/reports.routes.js';
import type { AuditStore } from '../audit/audit.store.js';
import { createAuditHook } from './audit.js';
import { securityHeaders } from './security-headers.js';
import { requestLogger } from './request-logger.js';
import { auditRoutes } from './routes/audit.routes.js';
import { erasureRoutes } from './routes/erasure.routes.js';
import type { ErasureService } from '../erasure/erasure.service.js';
import type { EventsRuntime } from '../events/events.runtime.js';
import { subscriptionsRoutes } from './routes/subscriptions.routes.js';

export type AppDeps = {
  config: HubConfig;
  keys: KeyRing;
  store: ProfileStore;
  curation: CurationStore;
  ingest: IngestQueue;
  connectors: ConnectorRuntime;
  events: EventsRuntime;
  queues: readonly Queue[];
  checks: readonly ReadinessCheck[];
  log: Logger;
  /** Shares rate-limit counters between API processes. */
  redis: Redis;
  prefix: string;
  metrics: HubMetrics;
  reports: ReportsStore;
  audit: AuditStore;
  erasure: ErasureService;
};

/**
 * Fastify with what every HTTP server of the hub has: problem+json errors and 404s, security headers
 * on every answer, and requests counted in the metrics. Routes' response schemas may refer to `Problem`.
 */
export function createBaseApp(log: Logger, metrics: HubMetrics): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: log.child({ component: 'api' }) as FastifyBaseLogger,
    childLoggerFactory: requestLogger,
    trustProxy: false,
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: 'array' } },
    clientErrorHandler: sendClientErrorProblem,
  });
  app.addSchema(ProblemSchema);
  app.setErrorHandler((err, request, reply) => sendProblem(reply, toProblem(err, request)));
  app.setNotFoundHandler((request, reply) => sendProblem(reply, toProblem(new HubError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`), request)));
  // Security headers on every answer (CSP, nosniff, frame-ancestors, HSTS, ...). The docs UI and the
  // queue dashboard load only their own scripts, so the default CSP fits them. Not
  // upgrade-insecure-requests: a hub served over plain HTTP inside a network would have its pages'
  // own scripts and styles rewritten to an https:// nobody serves.
  securityHeaders(app, { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  app.addHook('onResponse', httpMetricsHook(metrics));
  return app;
}

/** The HTTP API as a Fastify instance, without listening: tests use `inject()`. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = createBaseApp(deps.log, deps.metrics);
  // JSON bodies must be valid UTF-8: the default parser would turn bad bytes into U+FFFD and store them.
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      return done(new HubError('VALIDATION', 'the body is not valid UTF-8'), undefined);
    }
    parseJson(request, text, done);
  });

  app.addSchema(MappingSchema);

  // Every route's access shows in the OpenAPI document; keyed routes name their scope.
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (!route.schema || !access || access === 'public') return;
    route.schema = { ...route.schema, security: [{ bearerAuth: [] }], description: `${route.schema.description ?? ''}\n\nScope: \`${access}\`.`.trim() };
  });
  app.addHook('onRoute', (route) => {
    // A form's embed snippet is a <script> on other sites: Cross-Origin-Resource-Policy must let them load it.
    if (route.url.endsWith('/embed.js')) Object.assign(route.config ?? (route.config = {}), { securityHeaders: { crossOriginResourcePolicy: { policy: 'cross-origin' } } });
  });
  // After the security headers' hook: a refused request (401, 403) gets them too.
  app.addHook('onRequest', createAuthHook(deps.keys));
  app.addHook('onSend', createAuditHook({ audit: deps.audit, keys: deps.keys, log: deps.log.child({ component: 'audit' }) }));

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'crm-hub', version: '1', description: 'One profile per customer from mail, telephony, ERP and web forms.' },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
    transform: ({ schema, url }) => (url.startsWith(BOARD_PATH) ? { schema: { ...schema, hide: true }, url } : { schema, url }),
  });
  app.addHook('onRoute', (route) => {
    // The docs UI is public, like any API reference page.
    if (route.url.startsWith('/docs')) route.config = { ...route.config, access: 'public' };
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(rateLimit, {
    global: false,
    redis: deps.redis,
    nameSpace: `${deps.prefix}:rate-limit:`,
    skipOnError: true,
    errorResponseBuilder: (_request, context) => new HubError('RATE_LIMITED', `rate limit of ${context.max} requests per ${context.after} reached; try again later`),
  });

  await app.register(healthRoutes, { checks: deps.checks });
  await app.register(recordsRoutes, { ingest: deps.ingest, store: deps.store });
  await app.register(profilesRoutes, { store: deps.store, normalize: { defaultCountry: deps.config.identity.defaultCountry, emailRules: deps.config.identity.emailCanonicalization } });
  await app.register(identityRoutes, { store: deps.store, curation: deps.curation });
  await app.register(queuesRoutes, { queues: deps.queues });
  await app.register(formRoutes, {
    forms: deps.config.forms,
    ingest: deps.ingest,
    rateLimit: { max: deps.config.rateLimit.publicMax, timeWindow: deps.config.rateLimit.windowMs },
  });
  await app.register(connectorRoutes, { runtime: deps.connectors, rateLimit: { max: deps.config.rateLimit.webhookMax, timeWindow: deps.config.rateLimit.windowMs } });
  await app.register(auditRoutes, { audit: deps.audit });
  await app.register(erasureRoutes, { erasure: deps.erasure, store: deps.store, audit: deps.audit });
  await app.register(subscriptionsRoutes, { events: deps.events });
  await app.register(queueBoard, { queues: deps.queues, keys: deps.keys });
  await app.register(metricsRoutes, { metrics: deps.metrics, keys: deps.keys, requireKey: deps.config.metrics.requireKey });
  await app.register(reportsRoutes, { reports: deps.reports, ingest: deps.ingest });
  return app;
}
