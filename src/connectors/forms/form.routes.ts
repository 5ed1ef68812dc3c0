import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import formbody from '@fastify/formbody';
import multipart from '@fastify/multipart';
import cors from '@fastify/cors';
import type { FormConfig } from '../../core/config/config.schema.js';
import { HubError } from '../../core/errors.js';
import { validateRecordsBody } from '../../core/record.validate.js';
import type { IngestQueue } from '../../core/pipeline/ingest.queue.js';
import { formSubmissionToRecord, isBot, type FormFields } from './form.mapping.js';
import { embedScript } from './embed.js';

export type FormRoutesDeps = {
  forms: readonly FormConfig[];
  ingest: Pick<IngestQueue, 'enqueue'>;
  rateLimit: { max: number; timeWindow: number };
};

const FORM_BODY_LIMIT = 1024 * 1024;
const MAX_FIELDS = 200;
const MAX_FIELD_LENGTH = 20_000;

/** Flattens a posted body (urlencoded, multipart values or JSON) into form fields; anything else is a 400. */
function toFields(body: unknown): FormFields {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new HubError('VALIDATION', 'a form post must be a set of named fields');
  const fields: [string, string | string[]][] = [];
  const entries = Object.entries(body as Record<string, unknown>);
  if (entries.length > MAX_FIELDS) throw new HubError('PAYLOAD_TOO_LARGE', `a form may have at most ${MAX_FIELDS} fields`);
  for (const [name, value] of entries) {
    const values = Array.isArray(value) ? value : [value];
    const texts = values.map((v) => {
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
      // A JSON null is an empty field, like an empty input in an urlencoded post.
      if (v === null) return '';
      throw new HubError('VALIDATION', `field "${name}" must be text`, { errors: [{ path: `/${name}`, message: 'must be text' }] });
    });
    if (texts.some((t) => t.length > MAX_FIELD_LENGTH)) throw new HubError('PAYLOAD_TOO_LARGE', `field "${name}" is longer than ${MAX_FIELD_LENGTH} characters`);
    fields.push([name, texts.length === 1 ? (texts[0] ?? '') : texts]);
  }
  // Object.fromEntries: a field named "__proto__" stays a field and does not become the prototype.
  return Object.fromEntries(fields);
}

/**
 * Reads a multipart post into named values. Uploaded files are not stored: their content is
 * read and dropped, their names kept so the request still reads whole. A field busboy cut at its
 * size limit is a 413, not a silently shortened value.
 */
async function multipartFields(request: FastifyRequest): Promise<Record<string, unknown>> {
  const fields = new Map<string, unknown[]>();
  for await (const part of request.parts()) {
    let value: unknown;
    if (part.type === 'file') {
      for await (const _chunk of part.file) {
        // the content is not a CRM's business here
      }
      if (part.file.truncated) throw new HubError('PAYLOAD_TOO_LARGE', `file "${part.filename}" is larger than the limit`);
      // An empty file input still posts a part, with no file name: that is an empty field.
      value = part.filename ? `[file ${part.filename}]` : '';
    } else {
      if (part.valueTruncated) throw new HubError('PAYLOAD_TOO_LARGE', `field "${part.fieldname}" is longer than ${MAX_FIELD_LENGTH} characters`);
      value = part.value;
    }
    const values = fields.get(part.fieldname);
    if (values) values.push(value);
    else fields.set(part.fieldname, [value]);
  }
  return Object.fromEntries([...fields].map(([name, values]) => [name, values.length === 1 ? values[0] : values]));
}

/** The web forms connector: `POST /v1/forms/{formId}` from any site, public, per-form CORS and a rate limit per client IP. */
export async function formRoutes(fastify: FastifyInstance, deps: FormRoutesDeps) {
  const forms = new Map(deps.forms.map((f) => [f.id, f]));
  // The POST route names the form `formId`; the CORS preflight route (`/v1/forms*`) has it in `*` as `/{formId}`.
  const formOf = (request: FastifyRequest) => {
    const params = request.params as { formId?: string; '*'?: string } | undefined;
    return forms.get(params?.formId ?? params?.['*']?.replace(/^\//, '') ?? '');
  };

  await fastify.register(
    async (scope) => {
      // Forms post text fields, never text/plain documents: anything but the three form encodings is a 415.
      scope.removeContentTypeParser('text/plain');
      // @fastify/cors answers preflights on its own OPTIONS route (here `/v1/forms*`): a browser sends
      // no API key with a preflight, so the route is public like the form route itself.
      scope.addHook('onRoute', (route) => {
        if (route.method === 'OPTIONS') route.config = { ...route.config, access: 'public' };
      });
      await scope.register(formbody, { bodyLimit: FORM_BODY_LIMIT });
      await scope.register(multipart, {
        // fieldSize counts bytes: a field of MAX_FIELD_LENGTH characters is at most 3 bytes each in UTF-8.
        limits: { fields: MAX_FIELDS, fieldSize: MAX_FIELD_LENGTH * 3, files: 5, fileSize: 1024 * 1024, parts: MAX_FIELDS + 5 },
      });
      scope.addHook('preValidation', async (request) => {
        if (!request.isMultipart()) return;
        try {
          request.body = await multipartFields(request);
        } catch (err) {
          // busboy's parse errors (no boundary, cut-off body) are plain Errors: the client's fault, not ours.
          const known = err instanceof HubError || typeof (err as { statusCode?: unknown }).statusCode === 'number';
          throw known ? err : new HubError('VALIDATION', `malformed multipart body: ${(err as Error).message}`, { cause: err });
        }
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
        '/:formId',
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
            // The same check as POST /v1/records: a field too long for the record is the visitor's 400, not a failed job later.
            const receivedAt = new Date().toISOString();
            const checked = validateRecordsBody(formSubmissionToRecord(form, fields, submissionId, receivedAt));
            if ('error' in checked) throw checked.error;
            await deps.ingest.enqueue(checked.value.map((record) => ({ ...record, receivedAt })));
          } else {
            request.log.info({ formId: form.id }, 'honeypot filled: submission dropped');
          }
          if (form.redirect) return reply.code(303).header('location', form.redirect).send();
          return reply.code(202).send({ accepted: 1 });
        },
      );

      app.get(
        '/:formId/embed.js',
        {
          config: { access: 'public' },
          schema: {
            tags: ['inbound'],
            summary: 'The embed snippet of a form: pasted under a site’s own form, it copies each submission here',
            description:
              'Plain JavaScript, no dependencies. It posts the form’s fields (multipart, with an Idempotency-Key) to `POST /v1/forms/{formId}` in the background with keepalive, adds the form’s honeypot field if the form has none, and leaves the site’s own submit alone. The site’s origin must be in the form’s `corsOrigins`.',
            params: Type.Object({ formId: Type.String({ maxLength: 100 }) }),
            produces: ['application/javascript'],
            response: { 404: Type.Ref('Problem') },
          },
        },
        async (request, reply) => {
          const form = formOf(request);
          if (!form) throw new HubError('NOT_FOUND', `no form "${request.params.formId}" is configured`);
          if (form.corsOrigins.length === 0) request.log.warn({ formId: form.id }, 'embed.js served for a form without corsOrigins: browsers will refuse its posts');
          return reply
            .type('application/javascript; charset=utf-8')
            // Short: a change of honeypot in the config reaches the sites within minutes.
            .header('cache-control', 'public, max-age=300')
            .header('x-content-type-options', 'nosniff')
            .send(embedScript(form));
        },
      );
    },
    { prefix: '/v1/forms' },
  );
}
