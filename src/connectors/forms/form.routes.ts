import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import cors from '@fastify/cors';
import type { FormConfig } from '../../core/config/config.schema.js';
import { HubError } from '../../core/errors.js';
import type { IngestQueue } from '../../core/pipeline/ingest.queue.js';
import { formSubmissionToRecord, isBot, type FormFields } from './form.mapping.js';

export type FormRoutesDeps = {
  forms: readonly FormConfig[];
  ingest: Pick<IngestQueue, 'enqueue'>;
  rateLimit: { max: number; timeWindow: number };
};

const FORM_BODY_LIMIT = 1024 * 1024;
const MAX_FIELDS = 200;
const MAX_FIELD_LENGTH = 20_000;

/** Flattens a posted body (urlencoded, multipart key-values or JSON) into form fields; anything else is a 400. */
function toFields(body: unknown): FormFields {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new HubError('VALIDATION', 'a form post must be a set of named fields');
  const fields: FormFields = {};
  const entries = Object.entries(body as Record<string, unknown>);
  if (entries.length > MAX_FIELDS) throw new HubError('PAYLOAD_TOO_LARGE', `a form may have at most ${MAX_FIELDS} fields`);
  for (const [name, value] of entries) {
    const values = Array.isArray(value) ? value : [value];
    const texts = values.map((v) => {
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      // Uploaded files are not stored; their names are kept so the request still reads whole.
      if (v !== null && typeof v === 'object' && 'filename' in v) return `[file ${String((v as { filename: unknown }).filename)}]`;
      throw new HubError('VALIDATION', `field "${name}" must be text`, { errors: [{ path: `/${name}`, message: 'must be text' }] });
    });
    if (texts.some((t) => t.length > MAX_FIELD_LENGTH)) throw new HubError('PAYLOAD_TOO_LARGE', `field "${name}" is longer than ${MAX_FIELD_LENGTH} characters`);
    fields[name] = texts.length === 1 ? (texts[0] ?? '') : texts;
  }
  return fields;
}

/** The web forms connector: `POST /v1/forms/{formId}` from any site, public, per-form CORS and a rate limit per client IP. */
export async function formRoutes(fastify: FastifyInstance, deps: FormRoutesDeps) {
  const forms = new Map(deps.forms.map((f) => [f.id, f]));
  const formOf = (request: FastifyRequest) => forms.get((request.params as { formId?: string } | undefined)?.formId ?? '');

  await fastify.register(async (scope) => {
    await scope.register(formbody, { bodyLimit: FORM_BODY_LIMIT });
    await scope.register(multipart, {
      attachFieldsToBody: 'keyValues',
      limits: { fields: MAX_FIELDS, fieldSize: MAX_FIELD_LENGTH, files: 5, fileSize: 1024 * 1024, parts: MAX_FIELDS + 5 },
      // Keep only the file's name; its content is not a CRM's business here.
      onFile: async (part) => {
        part.file.resume();
        (part as unknown as { value: unknown }).value = { filename: part.filename };
      },
    });
    await scope.register(cors, {
      hook: 'onRequest',
      delegator: (request, callback) => {
        const allowed = formOf(request as FastifyRequest)?.corsOrigins ?? [];
        callback(null, { origin: allowed.length > 0 ? [...allowed] : false, methods: ['POST'] });
      },
    });

    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    app.post(
      '/v1/forms/:formId',
      {
        config: { access: 'public', rateLimit: { max: deps.rateLimit.max, timeWindow: deps.rateLimit.timeWindow } },
        bodyLimit: FORM_BODY_LIMIT,
        schema: {
          tags: ['inbound'],
          summary: 'A web form posts here (urlencoded, multipart or JSON); public, per-form CORS, rate limited',
          description: 'A submission becomes an interaction record (channel form). A filled honeypot field gets the normal answer and stores nothing.',
          params: Type.Object({ formId: Type.String({ maxLength: 100 }) }),
          consumes: ['application/x-www-form-urlencoded', 'multipart/form-data', 'application/json'],
          body: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }),
          response: {
            202: Type.Object({ accepted: Type.Integer() }),
            303: Type.Null({ description: 'redirect to the thank-you page' }),
            400: Type.Ref('Problem'),
            404: Type.Ref('Problem'),
            413: Type.Ref('Problem'),
            415: Type.Ref('Problem'),
            429: Type.Ref('Problem'),
            503: Type.Ref('Problem'),
          },
        },
      },
      async (request, reply) => {
        const form = formOf(request);
        if (!form) throw new HubError('NOT_FOUND', `no form "${request.params.formId}" is configured`);
        const fields = toFields(request.body);
        if (!isBot(form, fields)) {
          const submissionId = request.headers['idempotency-key'] ?? randomUUID();
          const record = formSubmissionToRecord(form, fields, submissionId);
          await deps.ingest.enqueue([{ ...record, receivedAt: new Date().toISOString() }]);
        } else {
          request.log.info({ formId: form.id }, 'honeypot filled: submission dropped');
        }
        if (form.redirect) return reply.code(303).header('location', form.redirect).send();
        return reply.code(202).send({ accepted: 1 });
      },
    );
  });
}
