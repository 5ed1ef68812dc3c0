import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AuditStore } from '../../audit/audit.store.js';
import { authErrors, Cursor, Limit } from '../schemas.js';

export const AuditEntrySchema = Type.Object({
  id: Type.String(),
  at: Type.String({ description: 'when the answer was sent' }),
  actor: Type.String({ description: 'the API key name; "unknown" for a key the hub does not know' }),
  keyFingerprint: Type.Union([Type.String({ description: 'for an unknown key: "sha256:" and the first 12 hex digits of its SHA-256' }), Type.Null()]),
  action: Type.String({ description: 'method and route pattern, e.g. "DELETE /v1/profiles/:id"' }),
  method: Type.String(),
  route: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  status: Type.Integer({ description: 'the HTTP status answered' }),
  summary: Type.String(),
  detail: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  profileIds: Type.Array(Type.String()),
});

export async function auditRoutes(fastify: FastifyInstance, deps: { audit: AuditStore }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/v1/audit',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['operations'],
        summary: 'The audit log, newest first: who (key name) did what write or admin action, when, from where; and every refused key',
        querystring: Type.Object(
          {
            limit: Limit,
            cursor: Type.Optional(Cursor),
            actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'a key name, or "unknown"' })),
            action: Type.Optional(Type.String({ minLength: 1, maxLength: 300, description: 'e.g. "POST /v1/queues/:name/retry-failed"' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(AuditEntrySchema), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...authErrors },
      },
    },
    async (request) => deps.audit.list(request.query),
  );
}
