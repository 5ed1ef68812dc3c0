import { createHmac, timingSafeEqual } from 'node:crypto';
import { Type, type Static, type TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { fieldErrors } from '../../../core/api/problem.js';
import { HubError } from '../../../core/errors.js';
import { defineConnector, type ConnectorContext, type WebhookEvent, type WebhookRequest } from '../../connector.js';
import { quickbooksMapping } from './quickbooks.mapping.js';

/** The production Accounting API host; the sandbox is https://sandbox-quickbooks.api.intuit.com. */
export const QUICKBOOKS_API = 'https://quickbooks.api.intuit.com';
// Intuit retired minor versions 1–74 in 2025; 75 is the lowest one still served.
const MINOR_VERSION = '75';
const ENDPOINT = 'qbo-api';

const Settings = Type.Object(
  {
    verifierToken: Type.String({ minLength: 16, description: 'the app’s webhook Verifier Token (developer portal → Webhooks); use ${ENV_VAR}' }),
    accessToken: Type.String({ minLength: 1, description: 'OAuth 2.0 access token for the Accounting API; use ${ENV_VAR}' }),
    realmId: Type.String({ pattern: '^[0-9]+$', description: 'the company (realm) id; notifications for other companies are ignored' }),
    baseUrl: Type.String({ pattern: '^https?://[^/]+$', default: QUICKBOOKS_API, description: 'Accounting API host, no trailing slash' }),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000, description: 'per API call; default: the hub’s (10 s)' })),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'retries of a failed API call; default: the hub’s (3)' })),
  },
  { additionalProperties: false },
);
type QuickbooksSettings = Static<typeof Settings>;

/** The entity types this connector fetches and maps; other notifications are acknowledged and dropped. */
export const QUICKBOOKS_ENTITIES = ['Customer', 'Invoice', 'Payment'] as const;
type Entity = (typeof QUICKBOOKS_ENTITIES)[number];

// Legacy format: https://developer.intuit.com/app/developer/qbo/docs/develop/webhooks
const LegacyDelivery = Compile(
  Type.Object({
    eventNotifications: Type.Array(
      Type.Object({
        realmId: Type.String({ minLength: 1 }),
        dataChangeEvent: Type.Object({
          entities: Type.Array(
            Type.Object({
              name: Type.String({ minLength: 1 }),
              id: Type.String({ minLength: 1 }),
              operation: Type.String({ minLength: 1 }),
              lastUpdated: Type.String({ minLength: 1 }),
            }),
          ),
        }),
      }),
    ),
  }),
);

// CloudEvents format (Intuit SDKs V14.7.0.4 / v6.2.2): an array; `type` is qbo.<entity>.<operation>.v<n>.
const CloudEventsDelivery = Compile(
  Type.Array(
    Type.Object({
      specversion: Type.String({ minLength: 1 }),
      id: Type.String({ minLength: 1 }),
      type: Type.String({ minLength: 1 }),
      intuitentityid: Type.String({ minLength: 1 }),
      intuitaccountid: Type.String({ minLength: 1 }),
    }),
  ),
);

const Change = Type.Object({
  realmId: Type.String({ minLength: 1 }),
  entity: Type.Union([Type.Literal('Customer'), Type.Literal('Invoice'), Type.Literal('Payment')]),
  id: Type.String({ minLength: 1 }),
  operation: Type.String({ minLength: 1 }),
});
/** What a queued event carries: a reference to the changed entity, the same for both delivery formats. */
export type QuickbooksChange = Static<typeof Change>;
const ChangeCheck = Compile(Change);

const Ref = Type.Object({ value: Type.String({ minLength: 1 }) });
// Only what the mapping relies on is checked; the rest of the entity passes as QuickBooks sent it.
const EntityShapes: Record<Entity, TSchema> = {
  Customer: Type.Object({ Id: Type.String({ minLength: 1 }) }),
  Invoice: Type.Object({ Id: Type.String({ minLength: 1 }), TotalAmt: Type.Number(), CustomerRef: Ref, CurrencyRef: Type.Optional(Ref) }),
  Payment: Type.Object({ Id: Type.String({ minLength: 1 }), TotalAmt: Type.Number(), CustomerRef: Ref, CurrencyRef: Type.Optional(Ref) }),
};
const Responses: Record<Entity, Validator> = {
  Customer: Compile(Type.Object({ Customer: EntityShapes.Customer })),
  Invoice: Compile(Type.Object({ Invoice: EntityShapes.Invoice })),
  Payment: Compile(Type.Object({ Payment: EntityShapes.Payment })),
};
const CompanyInfoResponse = Compile(Type.Object({ CompanyInfo: Type.Object({ CompanyName: Type.String() }) }));

// CloudEvents types name the operation in lower case (qbo.customer.created.v1); the legacy names are
// what the mapping and the Delete check use. Both tenses are taken: only the shape is documented.
const OPERATIONS: Record<string, string> = {
  create: 'Create', created: 'Create', update: 'Update', updated: 'Update', delete: 'Delete', deleted: 'Delete',
  merge: 'Merge', merged: 'Merge', void: 'Void', voided: 'Void', emailed: 'Emailed',
};

function isEntity(name: string): name is Entity {
  return (QUICKBOOKS_ENTITIES as readonly string[]).includes(name);
}

function header(request: WebhookRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function describe(errors: Parameters<typeof fieldErrors>[0]): string {
  return fieldErrors(errors.slice(0, 3)).map((e) => `${e.path} ${e.message}`).join('; ');
}

/** Splits a delivery in either format into changes, each with the provider's event id. */
function changesOf(body: unknown): { id: string; change: QuickbooksChange | null; realmId: string }[] {
  if (LegacyDelivery.Check(body)) {
    return body.eventNotifications.flatMap((n) =>
      n.dataChangeEvent.entities.map((e) => ({
        // Realm, entity, id, operation and change time name one change; a redelivery repeats them all.
        id: [n.realmId, e.name, e.id, e.operation, e.lastUpdated].join(':'),
        realmId: n.realmId,
        change: isEntity(e.name) ? { realmId: n.realmId, entity: e.name, id: e.id, operation: e.operation } : null,
      })),
    );
  }
  if (CloudEventsDelivery.Check(body)) {
    return body.map((e) => {
      const [, entityName = '', operation = ''] = /^qbo\.([a-z]+)\.([a-z]+)\.v\d+$/i.exec(e.type) ?? [];
      const entity = QUICKBOOKS_ENTITIES.find((name) => name.toLowerCase() === entityName.toLowerCase());
      return {
        id: e.id,
        realmId: e.intuitaccountid,
        change: entity ? { realmId: e.intuitaccountid, entity, id: e.intuitentityid, operation: OPERATIONS[operation.toLowerCase()] ?? operation } : null,
      };
    });
  }
  const errors = Array.isArray(body) ? CloudEventsDelivery.Errors(body) : LegacyDelivery.Errors(body);
  throw new HubError('VALIDATION', `not a QuickBooks webhook delivery (neither eventNotifications nor CloudEvents): ${describe(errors)}`, { errors: fieldErrors(errors) });
}

function api(ctx: ConnectorContext<QuickbooksSettings>) {
  return ctx.http(ENDPOINT, { timeoutMs: ctx.settings.timeoutMs, retries: ctx.settings.retries });
}

function auth(settings: QuickbooksSettings) {
  return { authorization: `Bearer ${settings.accessToken}`, accept: 'application/json' };
}

/**
 * QuickBooks Online webhooks, in the legacy `eventNotifications` format and the CloudEvents one.
 * Notifications only name what changed, so each Customer, Invoice or Payment change is fetched
 * from the Accounting API in the worker, after QuickBooks got its 200.
 */
export const quickbooksConnector = defineConnector({
  type: 'quickbooks',
  version: 1,
  description: 'QuickBooks Online webhooks: customers, invoices and payments, fetched through the Accounting API',
  settingsSchema: Settings,
  mappings: [quickbooksMapping],
  async test(ctx) {
    const { realmId, baseUrl } = ctx.settings;
    const response = await api(ctx).request({ method: 'GET', url: `${baseUrl}/v3/company/${realmId}/companyinfo/${realmId}`, params: { minorversion: MINOR_VERSION }, headers: auth(ctx.settings) });
    if (!CompanyInfoResponse.Check(response.data)) throw new HubError('UPSTREAM_REJECTED', `QuickBooks answered the company info request with something that is not company info`);
    return `QuickBooks company "${response.data.CompanyInfo.CompanyName}" (realm ${realmId}) answered`;
  },
  webhook: {
    verify(ctx, request) {
      // base64(HMAC-SHA256(verifier token, raw body)); the token is used as UTF-8 text, not decoded.
      const given = header(request, 'intuit-signature');
      if (!given) throw new HubError('UNAUTHORIZED', 'missing intuit-signature header');
      const expected = Buffer.from(createHmac('sha256', ctx.settings.verifierToken).update(request.rawBody).digest('base64'));
      const actual = Buffer.from(given.trim());
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new HubError('UNAUTHORIZED', 'intuit-signature does not match the body');
    },
    accept(ctx, request) {
      const events: WebhookEvent[] = [];
      for (const { id, change, realmId } of changesOf(request.body)) {
        if (realmId !== ctx.settings.realmId) {
          ctx.log.info({ realmId, eventId: id }, 'ignoring a QuickBooks notification for another company');
        } else if (change && change.operation !== 'Delete') {
          events.push({ id, payload: change });
        }
        // A Delete leaves nothing to fetch (the API answers "Object Not Found"), and other entity types are not mapped.
      }
      // Intuit wants 200 within 3 s and holds back later notifications until it gets one.
      return { events, reply: { status: 200 } };
    },
  },
  async prepare(ctx, event) {
    if (!ChangeCheck.Check(event.payload)) throw new HubError('VALIDATION', `queued QuickBooks event ${event.id} is not a change reference: ${describe(ChangeCheck.Errors(event.payload))}`);
    const change = event.payload;
    const { baseUrl, realmId } = ctx.settings;
    const url = `${baseUrl}/v3/company/${realmId}/${change.entity.toLowerCase()}/${encodeURIComponent(change.id)}`;
    const response = await api(ctx).request({ method: 'GET', url, params: { minorversion: MINOR_VERSION }, headers: auth(ctx.settings) });
    const body: unknown = response.data;
    const check = Responses[change.entity];
    if (!check.Check(body)) {
      throw new HubError('UPSTREAM_REJECTED', `QuickBooks answered GET ${change.entity} ${change.id} with a body that is not a ${change.entity}: ${describe(check.Errors(body))}`);
    }
    const entity = (body as Record<Entity, { Id: string }>)[change.entity];
    if (entity.Id !== change.id) throw new HubError('UPSTREAM_REJECTED', `QuickBooks answered GET ${change.entity} ${change.id} with ${change.entity} ${entity.Id}`);
    return [{ ...(body as Record<string, unknown>), hub: { realmId, operation: change.operation } }];
  },
});
