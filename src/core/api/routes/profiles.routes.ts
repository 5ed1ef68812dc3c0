import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HubError } from '../../errors.js';
import { normalizeLookup, type IdentifierType, type NormalizeOptions } from '../../identity/normalize.js';
import type { ProfileStore } from '../../store/profile.store.js';
import { authErrors, Cursor, Limit, notFound } from '../schemas.js';
import { liveProfileId, Redirect, UUID } from '../profile-redirect.js';

export type ProfilesRouteDeps = { store: ProfileStore; normalize: NormalizeOptions };

// The store gives profiles as JSON text, built by PostgreSQL in the shape of the response schemas
// below (which document them): sent as it is, never parsed to be printed again.
const JSON_TYPE = 'application/json; charset=utf-8';


const TraitSource = Type.Object({ source: Type.String(), sourceId: Type.String(), observedAt: Type.String() });
const Traits = Type.Record(Type.String(), Type.Unknown());
const ProfileSummary = Type.Object({ id: Type.String(), createdAt: Type.String(), updatedAt: Type.String(), traits: Traits });
const Profile = Type.Object({
  id: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  traits: Traits,
  traitSources: Type.Record(Type.String(), TraitSource),
  identifiers: Type.Array(Type.Object({ type: Type.String(), value: Type.String(), sources: Type.Array(Type.String()) })),
  records: Type.Array(
    Type.Object({
      source: Type.String(),
      sourceId: Type.String(),
      kind: Type.String(),
      lastSeenAt: Type.String(),
      linkReason: Type.Union([Type.String(), Type.Null()], { description: 'why the record is in this profile: a shared identifier, or the match and its reasons' }),
      linkScore: Type.Union([Type.Number(), Type.Null()], { description: 'the match score, when a match linked it' }),
    }),
  ),
  stats: Type.Object({
    records: Type.Integer(),
    interactions: Type.Integer(),
    firstSeenAt: Type.Union([Type.String(), Type.Null()]),
    lastInteractionAt: Type.Union([Type.String(), Type.Null()]),
    totalAmount: Type.Number(),
  }),
});
const TimelineItem = Type.Object(
  { source: Type.String(), sourceId: Type.String(), occurredAt: Type.String(), receivedAt: Type.String(), channel: Type.String() },
  { additionalProperties: true },
);
const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

export async function profilesRoutes(fastify: FastifyInstance, deps: ProfilesRouteDeps) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();


  app.get(
    '/v1/profiles',
    {
      config: { access: 'read' },
      schema: {
        tags: ['profiles'],
        summary: 'Find profiles by an identifier (normalized like ingested values), by name or company, or list them',
        querystring: Type.Object(
          {
            email: Type.Optional(Type.String({ maxLength: 1000 })),
            phone: Type.Optional(Type.String({ maxLength: 1000 })),
            externalId: Type.Optional(Type.String({ maxLength: 1000, description: 'source:id' })),
            q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'part of a name or company' })),
            updatedSince: Type.Optional(Type.String({ format: 'date-time' })),
            limit: Limit,
            cursor: Type.Optional(Cursor),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(ProfileSummary), nextCursor: Type.Union([Type.String(), Type.Null()]) }), ...authErrors },
      },
    },
    async (request, reply) => {
      const { email, phone, externalId, q, updatedSince, limit, cursor } = request.query;
      const given = (['email', 'phone', 'externalId'] as const).filter((k) => request.query[k] !== undefined);
      if (given.length > 1) throw new HubError('VALIDATION', 'look up by one identifier at a time', { errors: given.map((k) => ({ path: `/querystring/${k}`, message: 'only one of email, phone, externalId' })) });
      let identifier: { type: IdentifierType; value: string } | undefined;
      const raw = email ?? phone ?? externalId;
      if (raw !== undefined) {
        const type: IdentifierType = email !== undefined ? 'email' : phone !== undefined ? 'phone' : 'externalId';
        const value = normalizeLookup(type, raw, deps.normalize);
        if (!value) throw new HubError('VALIDATION', `"${raw}" is not a valid ${type}`, { errors: [{ path: `/querystring/${given[0]}`, message: `not a valid ${type}` }] });
        identifier = { type, value };
      }
      return reply.type(JSON_TYPE).send(await deps.store.findProfilesJson({ identifier, q, updatedSince, limit, cursor }));
    },
  );

  app.get(
    '/v1/profiles/:id',
    {
      config: { access: 'read' },
      schema: {
        tags: ['profiles'],
        summary: 'One profile: traits and where each came from, identifiers, records, stats',
        params: IdParams,
        response: { 200: Profile, 308: Redirect, ...authErrors, ...notFound },
      },
    },
    async (request, reply) => {
      const found = UUID.test(request.params.id) ? await deps.store.getProfileJson(request.params.id) : null;
      if (!found) throw new HubError('NOT_FOUND', `no profile ${request.params.id}`);
      if ('json' in found) return reply.type(JSON_TYPE).send(found.json);
      // Merges re-point older redirects, so this is the survivor; the walk is for safety only.
      await liveProfileId(deps.store, request.params.id, reply, '');
      return reply;
    },
  );

  app.get(
    '/v1/profiles/:id/timeline',
    {
      config: { access: 'read' },
      schema: {
        tags: ['profiles'],
        summary: "The profile's interactions, newest first",
        params: IdParams,
        querystring: Type.Object({ channel: Type.Optional(Type.String({ maxLength: 50 })), limit: Limit, cursor: Type.Optional(Cursor) }, { additionalProperties: false }),
        response: { 200: Type.Object({ data: Type.Array(TimelineItem), nextCursor: Type.Union([Type.String(), Type.Null()]) }), 308: Redirect, ...authErrors, ...notFound },
      },
    },
    async (request, reply) => {
      const id = await liveProfileId(deps.store, request.params.id, reply, '/timeline');
      if (!id) return reply;
      const { channel, limit, cursor } = request.query;
      return deps.store.timeline(id, { channel, limit, cursor });
    },
  );
}
