import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MAX_BATCH, RecordBatchSchema, RecordSchema, SOURCE_PATTERN, type HubRecord, type ReceivedRecord } from '../../record.schema.js';
import { validateRecordsBody } from '../../record.validate.js';
import { HubError } from '../../errors.js';
import { authErrors, notFound } from '../schemas.js';
import type { IngestQueue } from '../../pipeline/ingest.queue.js';
import type { ProfileStore } from '../../store/profile.store.js';

export type RecordsRouteDeps = { ingest: IngestQueue; store: ProfileStore };

const RecordStatus = Type.Object({
  source: Type.String(),
  sourceId: Type.String(),
  kind: Type.String(),
  status: Type.Union([Type.Literal('queued'), Type.Literal('processed'), Type.Literal('failed')]),
  profileId: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
  receivedAt: Type.String(),
  processedAt: Type.Optional(Type.String()),
});

export async function recordsRoutes(fastify: FastifyInstance, deps: RecordsRouteDeps) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.post(
    '/v1/records',
    {
      config: { access: 'ingest' },
      bodyLimit: 16 * 1024 * 1024,
      schema: {
        tags: ['records'],
        summary: `Ingest one record or a batch of up to ${MAX_BATCH}`,
        description: 'Validated as a whole: if any record is invalid, nothing is accepted. 202 means the records are durable.',
        body: Type.Union([RecordSchema, RecordBatchSchema]),
        response: { 202: Type.Object({ accepted: Type.Integer() }), 413: Type.Ref('Problem'), 415: Type.Ref('Problem'), ...authErrors },
      },
      validatorCompiler: () => (body: unknown) => validateRecordsBody(body),
      // Fastify parses text/plain into a string, which would fail as "must be object": say what is wrong instead.
      preParsing: async (request, _reply, payload) => {
        const type = request.headers['content-type'];
        if (type !== undefined && type.split(';', 1)[0]?.trim().toLowerCase() !== 'application/json') {
          throw new HubError('UNSUPPORTED_MEDIA_TYPE', `send records as application/json, not ${type}`);
        }
        return payload;
      },
    },
    async (request, reply) => {
      // The route's validator has already turned the body into a list of valid records.
      const records = request.body as unknown as HubRecord[];
      const receivedAt = new Date().toISOString();
      const stamped: ReceivedRecord[] = records.map((r) => ({ ...r, receivedAt }));
      await deps.ingest.enqueue(stamped);
      return reply.code(202).send({ accepted: stamped.length });
    },
  );

  app.get(
    '/v1/records/:source/:sourceId',
    {
      config: { access: 'read' },
      schema: {
        tags: ['records'],
        summary: 'Where a record is: queued, processed (with its profile) or failed (with the error)',
        params: Type.Object({ source: Type.String({ pattern: SOURCE_PATTERN, maxLength: 100 }), sourceId: Type.String({ minLength: 1, maxLength: 500 }) }),
        response: { 200: RecordStatus, ...authErrors, ...notFound },
      },
    },
    async (request) => {
      const { source, sourceId } = request.params;
      const queued = await deps.ingest.state(source, sourceId);
      if (queued) {
        const base = { source, sourceId, kind: queued.record.kind, receivedAt: queued.record.receivedAt };
        return queued.status === 'failed' ? { ...base, status: 'failed' as const, error: queued.error } : { ...base, status: 'queued' as const };
      }
      const stored = await deps.store.getRecord(source, sourceId);
      if (!stored) throw new HubError('NOT_FOUND', `no record ${source}/${sourceId} was received`);
      return { ...stored, status: 'processed' as const };
    },
  );
}
