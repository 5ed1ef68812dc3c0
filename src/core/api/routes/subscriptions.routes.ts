import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HubError } from '../../errors.js';
import type { EventsRuntime } from '../../events/events.runtime.js';
import { isValidSecret, newSecret } from '../../events/signing.js';
import { authErrors, Cursor, Limit, notFound } from '../schemas.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const EventPattern = Type.String({
  pattern: '^(\\*|[a-z][a-z0-9_-]*\\.\\*|[a-z][a-z0-9_-]*\\.[a-z0-9][a-z0-9_.-]*)$',
  maxLength: 100,
  description: 'an event type (profile.created, alert.big-order), every type of a family (alert.*), or every event (*)',
});
const Events = Type.Array(EventPattern, { minItems: 1, maxItems: 100, uniqueItems: true });
const Url = Type.String({
  minLength: 1,
  maxLength: 2000,
  description: 'http or https URL that receives the deliveries; a loopback, private, link-local or reserved address (or a name that resolves to one) is refused unless events.allowPrivateUrls',
});

const subscriptionFields = {
  id: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]),
  disabledAt: Nullable(Type.String()),
  disabledReason: Nullable(Type.String()),
  failingSince: Nullable(Type.String({ description: 'start of the current run of failed attempts' })),
  createdAt: Type.String(),
  updatedAt: Type.String(),
};
const SubscriptionView = Type.Object(subscriptionFields);
const CreatedSubscription = Type.Object({
  ...subscriptionFields,
  secret: Type.String({ description: 'the signing secret (Standard Webhooks, whsec_...); shown only here, once' }),
});
const DeliveryView = Type.Object({
  id: Type.String(),
  eventId: Type.String(),
  eventType: Type.String(),
  profileId: Nullable(Type.String()),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  createdAt: Type.String(),
  lastAttemptAt: Nullable(Type.String()),
  deliveredAt: Nullable(Type.String()),
  lastResponse: Type.Union([Type.Object({ status: Type.Integer(), body: Type.String({ description: 'the first 500 characters' }) }), Type.Null()]),
  error: Nullable(Type.String({ description: 'why the last attempt got no HTTP answer' })),
});
const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

function checkUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new HubError('VALIDATION', '/url: must be an http or https URL', { errors: [{ path: '/url', message: 'must be an http or https URL' }] });
  }
}

/** Outbound webhooks: subscriptions, their delivery log, redelivery. */
export async function subscriptionsRoutes(fastify: FastifyInstance, deps: { events: EventsRuntime }) {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { store, deliveries, urls } = deps.events;
  const tags = ['subscriptions'];

  async function found(id: string) {
    const subscription = await store.get(id);
    if (!subscription) throw new HubError('NOT_FOUND', `no subscription ${id}`);
    return subscription;
  }

  app.post(
    '/v1/subscriptions',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Subscribe a URL to events; deliveries are signed per Standard Webhooks with the returned secret',
        body: Type.Object(
          {
            url: Url,
            events: Events,
            secret: Type.Optional(Type.String({ maxLength: 200, description: 'whsec_ and 24 to 64 bytes in base64; default: a new random one' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: CreatedSubscription, ...authErrors },
      },
    },
    async (request, reply) => {
      const { url, events } = request.body;
      checkUrl(url);
      await urls.check(url);
      const secret = request.body.secret ?? newSecret();
      if (!isValidSecret(secret)) {
        throw new HubError('VALIDATION', '/secret: must be whsec_ followed by 24 to 64 bytes in base64', { errors: [{ path: '/secret', message: 'must be whsec_ followed by 24 to 64 bytes in base64' }] });
      }
      const created = await store.create({ url, events, secret });
      return reply.code(201).send({ ...created, secret });
    },
  );

  app.get(
    '/v1/subscriptions',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'List subscriptions, oldest first',
        querystring: Type.Object({ limit: Limit, cursor: Type.Optional(Cursor) }, { additionalProperties: false }),
        response: { 200: Type.Object({ data: Type.Array(SubscriptionView), nextCursor: Nullable(Type.String()) }), ...authErrors },
      },
    },
    async (request) => store.list({ limit: request.query.limit, ...(request.query.cursor ? { cursor: request.query.cursor } : {}) }),
  );

  app.get(
    '/v1/subscriptions/:id',
    {
      config: { access: 'admin' },
      schema: { tags, summary: 'One subscription, with its status', params: IdParams, response: { 200: SubscriptionView, ...authErrors, ...notFound } },
    },
    async (request) => found(request.params.id),
  );

  app.patch(
    '/v1/subscriptions/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Change a subscription; {"enabled": true} re-enables a disabled one and sends what it holds',
        params: IdParams,
        body: Type.Object({ url: Type.Optional(Url), events: Type.Optional(Events), enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: SubscriptionView, ...authErrors, ...notFound },
      },
    },
    async (request) => {
      const { url, events, enabled } = request.body;
      if (url !== undefined) {
        checkUrl(url);
        await urls.check(url);
      }
      const updated = await store.update(request.params.id, {
        ...(url !== undefined ? { url } : {}),
        ...(events !== undefined ? { events } : {}),
        ...(enabled !== undefined ? { enabled, reason: 'disabled through the API' } : {}),
      });
      if (!updated) throw new HubError('NOT_FOUND', `no subscription ${request.params.id}`);
      // Pending deliveries waited while it was disabled (or out in a long backoff): send them now.
      if (enabled === true) await deliveries.kick(await deliveries.heads({ subscriptionId: updated.id }), true);
      return updated;
    },
  );

  app.delete(
    '/v1/subscriptions/:id',
    {
      config: { access: 'admin' },
      schema: { tags, summary: 'Delete a subscription and its delivery log', params: IdParams, response: { 204: Type.Null(), ...authErrors, ...notFound } },
    },
    async (request, reply) => {
      if (!(await store.remove(request.params.id))) throw new HubError('NOT_FOUND', `no subscription ${request.params.id}`);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/subscriptions/:id/deliveries',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'The delivery log of a subscription, newest first',
        params: IdParams,
        querystring: Type.Object(
          { status: Type.Optional(Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')])), limit: Limit, cursor: Type.Optional(Cursor) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(DeliveryView), nextCursor: Nullable(Type.String()) }), ...authErrors, ...notFound },
      },
    },
    async (request) => {
      const subscription = await found(request.params.id);
      const { status, limit, cursor } = request.query;
      return store.deliveries(subscription.id, { limit, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) });
    },
  );

  app.post(
    '/v1/subscriptions/:id/deliveries/:deliveryId/retry',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Send a delivery again (also a delivered or failed one), with the same webhook-id',
        params: Type.Object({ id: Type.String({ maxLength: 100 }), deliveryId: Type.String({ maxLength: 100 }) }),
        response: { 202: DeliveryView, ...authErrors, ...notFound },
      },
    },
    async (request, reply) => {
      const subscription = await found(request.params.id);
      const delivery = await store.requeue(subscription.id, request.params.deliveryId);
      if (!delivery) throw new HubError('NOT_FOUND', `no delivery ${request.params.deliveryId} of subscription ${subscription.id}`);
      // It goes out once it heads its lane: at once, unless an older delivery of the same profile is pending.
      try {
        await deliveries.redeliver(delivery.id);
      } catch (cause) {
        throw new HubError('QUEUE_UNAVAILABLE', 'the delivery is pending again, but the queue (Redis) is not reachable; it goes out with the next sweep', { cause });
      }
      return reply.code(202).send(delivery);
    },
  );
}
