import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HubError } from '../core/errors.js';
import { authErrors, notFound } from '../core/api/schemas.js';
import { MappingSchema, type MappingDocument } from '../mappings/mapping.schema.js';
import { RecordSchema } from '../core/record.schema.js';
import type { WebhookRequest } from './connector.js';
import type { ConnectorRuntime } from './runtime.js';

const WEBHOOK_BODY_LIMIT = 1024 * 1024;
/** Bad bytes are refused, not turned into U+FFFD. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

const ConnectorStatusSchema = Type.Object({
  id: Type.String(),
  type: Type.String(),
  enabled: Type.Boolean(),
  mode: Type.Array(Type.String()),
  status: Type.String({ description: 'ok | error | idle | disabled' }),
  lastRunAt: Type.Union([Type.String(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  stats: Type.Object({ received: Type.Integer(), processed: Type.Integer(), failed: Type.Integer() }),
  breaker: Type.String({ description: 'closed | open | halfOpen' }),
  mapping: Type.Object({ name: Type.String(), version: Type.Integer() }),
});

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

function parseForm(raw: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const previous = out[key];
    out[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return out;
}

/** Connector webhooks (public, each type checks its own signature over the exact bytes) and the connectors API (admin). */
export async function connectorRoutes(fastify: FastifyInstance, deps: { runtime: ConnectorRuntime; rateLimit: { max: number; timeWindow: number } }) {
  await fastify.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    // Signatures are over exact bytes: keep them, and parse JSON and form posts from the same buffer.
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (request: FastifyRequest, body: Buffer, done) => {
      request.rawBody = body;
      const type = (request.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
      if (body.length === 0) return done(null, undefined);
      try {
        if (type === 'application/json' || type.endsWith('+json')) return done(null, JSON.parse(STRICT_UTF8.decode(body)) as unknown);
        if (type === 'application/x-www-form-urlencoded') return done(null, parseForm(body.toString('utf8')));
        return done(null, undefined);
      } catch {
        return done(new HubError('VALIDATION', 'the body is not valid JSON in UTF-8'), undefined);
      }
    });
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    // Some providers append their own path to the one URL they are given (Mango Office posts to
    // {url}/events/call, {url}/events/summary, ...), so the connector also gets what follows its id.
    for (const url of ['/v1/webhooks/:connectorId', '/v1/webhooks/:connectorId/*']) app.route({
      method: ['GET', 'POST'],
      url,
      bodyLimit: WEBHOOK_BODY_LIMIT,
      config: { access: 'public', rateLimit: deps.rateLimit },
      schema: {
        tags: ['inbound'],
        summary: 'Telephony, ERP and other systems push events here; each connector type checks its own signature',
        description: 'Bad or missing signature: 401, nothing queued. A redelivered event (same provider event id) changes nothing.',
        params: Type.Object({ connectorId: Type.String({ maxLength: 100 }) }),
        response: { 401: Type.Ref('Problem'), 404: Type.Ref('Problem'), 413: Type.Ref('Problem'), 429: Type.Ref('Problem'), 503: Type.Ref('Problem') },
      },
      handler: async (request, typedReply) => {
        // The provider's answer is the connector's to choose (TwiML, an echo, an empty 200), not the schema's.
        const reply: FastifyReply = typedReply;
        const webhookRequest: WebhookRequest = {
          method: request.method,
          url: `${request.protocol}://${request.host}${request.url}`,
          headers: request.headers,
          query: request.query as Record<string, string | string[] | undefined>,
          rawBody: request.rawBody ?? Buffer.alloc(0),
          body: request.body,
        };
        const answer = await deps.runtime.receive(request.params.connectorId, webhookRequest);
        reply.code(answer.status);
        if (answer.contentType) reply.type(answer.contentType);
        return reply.send(answer.body ?? '');
      },
    });
  });

  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

  app.get(
    '/v1/connectors',
    { config: { access: 'admin' }, schema: { tags: ['connectors'], summary: 'Every configured connector with its status, counts and breaker', response: { 200: Type.Object({ data: Type.Array(ConnectorStatusSchema) }), ...authErrors } } },
    async () => ({ data: await deps.runtime.statuses() }),
  );
  app.get(
    '/v1/connectors/:id',
    { config: { access: 'admin' }, schema: { tags: ['connectors'], summary: 'One connector', params: IdParams, response: { 200: ConnectorStatusSchema, ...authErrors, ...notFound } } },
    async (request) => {
      const found = (await deps.runtime.statuses()).find((c) => c.id === request.params.id);
      if (!found) throw new HubError('NOT_FOUND', `no connector "${request.params.id}" is configured`);
      return found;
    },
  );
  app.post(
    '/v1/connectors/:id/run',
    {
      config: { access: 'admin' },
      schema: { tags: ['connectors'], summary: 'Poll now (pollers only)', params: IdParams, response: { 202: Type.Object({ queued: Type.Boolean() }), 409: Type.Ref('Problem'), ...authErrors, ...notFound } },
    },
    async (request, reply) => {
      await deps.runtime.runNow(request.params.id);
      return reply.code(202).send({ queued: true });
    },
  );
  app.post(
    '/v1/connectors/:id/test',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['connectors'],
        summary: 'Check the connection and credentials; says what is wrong in words',
        params: IdParams,
        response: { 200: Type.Object({ ok: Type.Boolean(), message: Type.String() }), ...authErrors, ...notFound },
      },
    },
    async (request) => deps.runtime.test(request.params.id),
  );
  app.post(
    '/v1/mappings/preview',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['connectors'],
        summary: 'The records a payload would become through a connector’s mapping or a given one, or the errors; stores nothing',
        body: Type.Object({ connectorId: Type.Optional(Type.String({ maxLength: 100 })), mapping: Type.Optional(MappingSchema), payload: Type.Unknown() }, { additionalProperties: false }),
        response: { 200: Type.Object({ records: Type.Array(RecordSchema), errors: Type.Array(Type.Object({ path: Type.String(), message: Type.String() })) }), ...authErrors, ...notFound },
      },
    },
    async (request) => {
      const { connectorId, mapping, payload } = request.body;
      if (!connectorId && !mapping) throw new HubError('VALIDATION', 'give a connectorId or a mapping', { errors: [{ path: '/connectorId', message: 'connectorId or mapping is required' }] });
      return deps.runtime.preview({ connectorId, mapping: mapping as MappingDocument | undefined, payload });
    },
  );
}
