import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ProfileStore } from '../../store/profile.store.js';
import type { CurationStore } from '../../store/curation.store.js';
import { authErrors, Cursor, Limit, notFound } from '../schemas.js';
import { liveProfileId, Redirect, UUID } from '../profile-redirect.js';

/** Review and correction of identity: duplicates, manual merge and split, a profile's history. */
export type IdentityRouteDeps = { store: ProfileStore; curation: CurationStore };

const problemRef = Type.Ref('Problem');
const conflict = { 409: problemRef } as const;

const Status = Type.Union([Type.Literal('open'), Type.Literal('merged'), Type.Literal('dismissed'), Type.Literal('outdated')]);
const Pair = Type.Object({
  id: Type.String(),
  profileIds: Type.Array(Type.String(), { minItems: 2, maxItems: 2 }),
  score: Type.Number(),
  reasons: Type.Array(Type.String()),
  status: Status,
  createdAt: Type.String(),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  decidedAt: Type.Union([Type.String(), Type.Null()]),
});
const PairParams = Type.Object({ id: Type.String({ maxLength: 30 }) });
const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
const RecordRef = Type.Object({ source: Type.String({ minLength: 1, maxLength: 100 }), sourceId: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false });
const HistoryEntry = Type.Object({ type: Type.Union([Type.Literal('merge'), Type.Literal('split')]), at: Type.String(), actor: Type.String(), detail: Type.Record(Type.String(), Type.Unknown()) });

export async function identityRoutes(fastify: FastifyInstance, deps: IdentityRouteDeps) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const actor = (request: { apiKey?: { name: string } }) => request.apiKey?.name ?? 'unknown';


  app.get(
    '/v1/duplicates',
    {
      config: { access: 'read' },
      schema: {
        tags: ['identity'],
        summary: 'Pairs of profiles that may be one person but were not merged automatically, with score and reasons',
        querystring: Type.Object({ status: Type.Optional(Status), limit: Limit, cursor: Type.Optional(Cursor) }, { additionalProperties: false }),
        response: { 200: Type.Object({ data: Type.Array(Pair), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...authErrors },
      },
    },
    async (request) => deps.curation.listDuplicates({ status: request.query.status ?? 'open', limit: request.query.limit, cursor: request.query.cursor }),
  );

  app.post(
    '/v1/duplicates/:id/merge',
    {
      config: { access: 'write' },
      schema: {
        tags: ['identity'],
        summary: 'Merge the pair: the older profile remains, the other redirects to it',
        params: PairParams,
        response: { 200: Type.Intersect([Pair, Type.Object({ profileId: Type.String() })]), ...authErrors, ...notFound, ...conflict },
      },
    },
    async (request) => deps.curation.mergePair(request.params.id, actor(request)),
  );

  app.post(
    '/v1/duplicates/:id/dismiss',
    {
      config: { access: 'write' },
      schema: {
        tags: ['identity'],
        summary: 'Two people after all: the pair is not proposed again and never merged automatically',
        params: PairParams,
        response: { 200: Pair, ...authErrors, ...notFound, ...conflict },
      },
    },
    async (request) => deps.curation.dismissPair(request.params.id, actor(request)),
  );

  app.get(
    '/v1/duplicates/shared-identifiers',
    {
      config: { access: 'read' },
      schema: {
        tags: ['identity'],
        summary: 'Emails and phones found on too many profiles (a switchboard, a shared inbox): they no longer link records',
        querystring: Type.Object({ limit: Limit }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            data: Type.Array(Type.Object({ type: Type.String(), value: Type.String(), profiles: Type.Integer(), firstSeenAt: Type.String(), lastSeenAt: Type.String() })),
          }),
          ...authErrors,
        },
      },
    },
    async (request) => ({ data: await deps.curation.sharedIdentifiers(request.query.limit) }),
  );

  app.post(
    '/v1/profiles/:id/merge',
    {
      config: { access: 'write' },
      schema: {
        tags: ['identity'],
        summary: 'Merge another profile into this one: this one remains, the other redirects to it',
        params: IdParams,
        body: Type.Object({ profileId: Type.String({ pattern: UUID.source }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ profileId: Type.String(), mergedId: Type.String() }), ...authErrors, ...notFound, ...conflict },
      },
    },
    async (request, reply) => {
      const id = await liveProfileId(deps.store, request.params.id, reply, '/merge');
      if (!id) return reply;
      return deps.curation.mergeProfiles(id, request.body.profileId, actor(request));
    },
  );

  app.post(
    '/v1/profiles/:id/split',
    {
      config: { access: 'write' },
      schema: {
        tags: ['identity'],
        summary: 'Move records out into a new profile; the two are never merged back automatically',
        params: IdParams,
        body: Type.Object({ records: Type.Array(RecordRef, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ profileId: Type.String(), newProfileId: Type.String(), moved: Type.Integer() }), ...authErrors, ...notFound, ...conflict },
      },
    },
    async (request, reply) => {
      const id = await liveProfileId(deps.store, request.params.id, reply, '/split');
      if (!id) return reply;
      return deps.curation.splitProfile(id, request.body.records, actor(request));
    },
  );

  app.get(
    '/v1/profiles/:id/history',
    {
      config: { access: 'read' },
      schema: {
        tags: ['identity'],
        summary: 'Merges and splits that shaped the profile: who or which rule, the score, when',
        params: IdParams,
        response: { 200: Type.Object({ data: Type.Array(HistoryEntry) }), 308: Redirect, ...authErrors, ...notFound },
      },
    },
    async (request, reply) => {
      const id = await liveProfileId(deps.store, request.params.id, reply, '/history');
      if (!id) return reply;
      return { data: await deps.curation.history(id) };
    },
  );
}
