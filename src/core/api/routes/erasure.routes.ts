import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HubError } from '../../errors.js';
import type { ProfileStore } from '../../store/profile.store.js';
import type { AuditStore } from '../../audit/audit.store.js';
import type { ErasureService } from '../../erasure/erasure.service.js';
import { AuditEntrySchema } from './audit.routes.js';
import { authErrors, Cursor, Limit, notFound } from '../schemas.js';
import { liveProfileId, Redirect, UUID } from '../profile-redirect.js';

export type ErasureRouteDeps = { erasure: ErasureService; store: Pick<ProfileStore, 'resolveProfileId' | 'getProfile'>; audit: Pick<AuditStore, 'aboutProfiles'> };

const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
const Json = Type.Record(Type.String(), Type.Unknown());

const ExportRecord = Type.Object({
  source: Type.String(),
  sourceId: Type.String(),
  kind: Type.String(),
  occurredAt: Type.String(),
  receivedAt: Type.String(),
  processedAt: Type.String(),
  identifiers: Json,
  traits: Json,
  interaction: Type.Union([Json, Type.Null()]),
});
const Export = Type.Object({
  exportedAt: Type.String(),
  profile: Type.Object({}, { additionalProperties: true, description: 'the profile as GET /v1/profiles/{id} answers it' }),
  mergedIds: Type.Array(Type.String(), { description: 'profiles merged into this one' }),
  records: Type.Array(ExportRecord, { description: 'every record, as received (identifiers not normalized), oldest first' }),
  merges: Type.Array(Type.Object({ survivorId: Type.String(), mergedId: Type.String(), reason: Type.String(), actor: Type.String(), createdAt: Type.String() })),
  audit: Type.Array(AuditEntrySchema, { description: 'audit entries about the profile or one merged into it' }),
});
const Held = Type.Object({
  id: Type.String(),
  source: Type.String(),
  sourceId: Type.String(),
  receivedAt: Type.String(),
  heldAt: Type.String(),
  matched: Type.Array(Type.String(), { description: 'the types of its identifiers that had been erased' }),
  record: Json,
});

export async function erasureRoutes(fastify: FastifyInstance, deps: ErasureRouteDeps) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();


  app.delete(
    '/v1/profiles/:id',
    {
      config: { access: 'write' },
      schema: {
        tags: ['profiles'],
        summary: 'Erase the person: records, identifiers, timeline, merged-away ids, queued jobs; keeps only salted hashes of the identifiers',
        params: IdParams,
        response: { 204: Type.Null(), 308: Redirect, ...authErrors, ...notFound },
      },
    },
    async (request, reply) => {
      const id = await liveProfileId(deps.store, request.params.id, reply, '');
      if (!id) return reply;
      const outcome = await deps.erasure.erase(id);
      if (outcome.status === 'missing') throw new HubError('NOT_FOUND', `no profile ${id}`);
      if (outcome.status === 'moved') {
        // Merged while we looked: answer like a merged id, do not erase the survivor.
        return reply.code(308).header('location', `/v1/profiles/${outcome.survivorId}`).send({ mergedInto: outcome.survivorId });
      }
      // Counts only: the values are what was erased.
      request.auditDetail = {
        summary: `erased ${outcome.person.records.length} records and ${outcome.person.identifiers.length} identifiers`,
        profileIds: outcome.person.profileIds,
        records: outcome.person.records.length,
        identifiers: outcome.person.identifiers.length,
        jobs: outcome.jobs,
      };
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/profiles/:id/export',
    {
      config: { access: 'read', audit: true },
      schema: {
        tags: ['profiles'],
        summary: 'Everything held about the person as one JSON document: profile, every record in full, merge history, audit entries',
        params: IdParams,
        response: { 200: Export, 308: Redirect, ...authErrors, ...notFound },
      },
    },
    async (request, reply) => {
      const id = await liveProfileId(deps.store, request.params.id, reply, '/export');
      if (!id) return reply;
      const profile = await deps.store.getProfile(id);
      if (!profile || 'mergedInto' in profile) throw new HubError('CONFLICT', `profile ${id} changed while it was exported; ask again`);
      const data = await deps.erasure.exportData(id);
      const audit = await deps.audit.aboutProfiles(data.profileIds);
      request.auditDetail = { summary: `exported ${data.records.length} records`, profileIds: data.profileIds };
      return { exportedAt: new Date().toISOString(), profile, mergedIds: data.profileIds.filter((p) => p !== id), records: data.records, merges: data.merges, audit };
    },
  );

  app.get(
    '/v1/erasures/held',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['profiles'],
        summary: 'Records held because they carry an identifier of an erased person (oldest first); `dropped` counts those dropped by config',
        querystring: Type.Object({ limit: Limit, cursor: Type.Optional(Cursor) }, { additionalProperties: false }),
        response: { 200: Type.Object({ data: Type.Array(Held), nextCursor: Type.Union([Type.String(), Type.Null()]), dropped: Type.Integer() }), ...authErrors },
      },
    },
    async (request) => deps.erasure.listHeld(request.query),
  );

  app.post(
    '/v1/erasures/held/:id/release',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['profiles'],
        summary: 'Queue a held record normally; its identifiers are no longer treated as erased',
        params: IdParams,
        response: { 202: Type.Object({ accepted: Type.Integer() }), ...authErrors, ...notFound },
      },
    },
    async (request, reply) => {
      const held = UUID.test(request.params.id) ? await deps.erasure.release(request.params.id) : null;
      if (!held) throw new HubError('NOT_FOUND', `no held record ${request.params.id}`);
      return reply.code(202).send({ accepted: 1 });
    },
  );

  app.delete(
    '/v1/erasures/held/:id',
    {
      config: { access: 'admin' },
      schema: { tags: ['profiles'], summary: 'Discard a held record', params: IdParams, response: { 204: Type.Null(), ...authErrors, ...notFound } },
    },
    async (request, reply) => {
      const gone = UUID.test(request.params.id) ? await deps.erasure.discard(request.params.id) : false;
      if (!gone) throw new HubError('NOT_FOUND', `no held record ${request.params.id}`);
      return reply.code(204).send(null);
    },
  );
}
