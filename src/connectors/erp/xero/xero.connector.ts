import { createHmac, timingSafeEqual } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { fieldErrors } from '../../../core/api/problem.js';
import { HubError } from '../../../core/errors.js';
import { defineConnector, type ConnectorContext, type WebhookEvent, type WebhookRequest } from '../../connector.js';
import { xeroMapping } from './xero.mapping.js';

/** The Accounting API host. */
export const XERO_API = 'https://api.xero.com';
const ENDPOINT = 'xero-api';
const GUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

const Settings = Type.Object(
  {
    webhookKey: Type.String({ minLength: 16, description: 'the webhook key from the app’s Webhooks page (developer.xero.com → My Apps); use ${ENV_VAR}' }),
    accessToken: Type.String({ minLength: 1, description: 'OAuth 2.0 access token with accounting.contacts.read and accounting.transactions.read; use ${ENV_VAR}' }),
    tenantId: Type.String({ pattern: GUID, description: 'the organisation (tenant) id; events for other organisations are ignored' }),
    baseUrl: Type.String({ pattern: '^https?://[^/]+$', default: XERO_API, description: 'API host, no trailing slash' }),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000, description: 'per API call; default: the hub’s (10 s)' })),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'retries of a failed API call; default: the hub’s (3)' })),
  },
  { additionalProperties: false },
);
type XeroSettings = Static<typeof Settings>;

// https://developer.xero.com/documentation/guides/webhooks/overview — resourceUrl is not followed: the
// request is built from baseUrl and a checked id, so a payload cannot aim our token at another host.
const Delivery = Compile(
  Type.Object({
    events: Type.Array(
      Type.Object({
        resourceId: Type.String({ minLength: 1 }),
        eventDateUtc: Type.String({ minLength: 1 }),
        eventType: Type.String({ minLength: 1 }),
        eventCategory: Type.String({ minLength: 1 }),
        tenantId: Type.String({ minLength: 1 }),
      }),
    ),
  }),
);

const CATEGORIES = { CONTACT: 'Contacts', INVOICE: 'Invoices' } as const;
type Category = keyof typeof CATEGORIES;

const Change = Type.Object({
  tenantId: Type.String({ minLength: 1 }),
  category: Type.Union([Type.Literal('CONTACT'), Type.Literal('INVOICE')]),
  resourceId: Type.String({ pattern: GUID }),
  eventType: Type.String({ minLength: 1 }),
});
/** What a queued event carries: a reference to the changed contact or invoice. */
export type XeroChange = Static<typeof Change>;
const ChangeCheck = Compile(Change);

const Phone = Type.Object({
  PhoneNumber: Type.Optional(Type.String()),
  PhoneAreaCode: Type.Optional(Type.String()),
  PhoneCountryCode: Type.Optional(Type.String()),
});
const ContactsResponse = Compile(
  Type.Object({
    Contacts: Type.Array(Type.Object({ ContactID: Type.String({ pattern: GUID }), Phones: Type.Optional(Type.Array(Phone)) }), { minItems: 1, maxItems: 1 }),
  }),
);
const InvoicesResponse = Compile(
  Type.Object({
    Invoices: Type.Array(
      Type.Object({
        InvoiceID: Type.String({ pattern: GUID }),
        Total: Type.Number(),
        CurrencyCode: Type.String(),
        Contact: Type.Object({ ContactID: Type.String({ pattern: GUID }) }),
      }),
      { minItems: 1, maxItems: 1 },
    ),
  }),
);
const OrganisationResponse = Compile(Type.Object({ Organisations: Type.Array(Type.Object({ Name: Type.String() }), { minItems: 1 }) }));

function header(request: WebhookRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function describe(errors: Parameters<typeof fieldErrors>[0]): string {
  return fieldErrors(errors.slice(0, 3)).map((e) => `${e.path} ${e.message}`).join('; ');
}

/** Xero splits a number into country code, area code and number; "+<country> <area> <number>" when the country is known. */
export function xeroPhone(phone: Static<typeof Phone>): string | undefined {
  const number = phone.PhoneNumber?.trim() ?? '';
  if (!number) return undefined;
  const country = (phone.PhoneCountryCode ?? '').replace(/\D/g, '');
  const local = `${phone.PhoneAreaCode?.trim() ?? ''} ${number}`.trim();
  return country ? `+${country} ${local}` : local;
}

function api(ctx: ConnectorContext<XeroSettings>) {
  return ctx.http(ENDPOINT, { timeoutMs: ctx.settings.timeoutMs, retries: ctx.settings.retries });
}

function auth(settings: XeroSettings) {
  return { authorization: `Bearer ${settings.accessToken}`, 'xero-tenant-id': settings.tenantId, accept: 'application/json' };
}

function isCategory(value: string): value is Category {
  return value in CATEGORIES;
}

/**
 * Xero webhooks (contacts and invoices). The "Intent to Receive" check Xero runs on setup gets the
 * answer it expects: 200 with an empty body when signed right, 401 when not. Events only name the
 * resource, so each is fetched from the Accounting API in the worker.
 */
export const xeroConnector = defineConnector({
  type: 'xero',
  version: 1,
  description: 'Xero webhooks: contacts and invoices, fetched through the Accounting API',
  settingsSchema: Settings,
  mappings: [xeroMapping],
  async test(ctx) {
    const response = await api(ctx).request({ method: 'GET', url: `${ctx.settings.baseUrl}/api.xro/2.0/Organisation`, headers: auth(ctx.settings) });
    if (!OrganisationResponse.Check(response.data)) throw new HubError('UPSTREAM_REJECTED', 'Xero answered the organisation request with something that is not an organisation');
    return `Xero organisation "${response.data.Organisations[0]?.Name ?? ''}" (tenant ${ctx.settings.tenantId}) answered`;
  },
  webhook: {
    verify(ctx, request) {
      // base64(HMAC-SHA256(webhook key, raw body)). Intent to Receive sends wrong signatures on purpose; they must get 401.
      const given = header(request, 'x-xero-signature');
      if (!given) throw new HubError('UNAUTHORIZED', 'missing x-xero-signature header');
      const expected = Buffer.from(createHmac('sha256', ctx.settings.webhookKey).update(request.rawBody).digest('base64'));
      const actual = Buffer.from(given.trim());
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new HubError('UNAUTHORIZED', 'x-xero-signature does not match the body');
    },
    accept(ctx, request) {
      if (!Delivery.Check(request.body)) {
        const errors = Delivery.Errors(request.body);
        throw new HubError('VALIDATION', `not a Xero webhook delivery: ${describe(errors)}`, { errors: fieldErrors(errors) });
      }
      const events: WebhookEvent[] = [];
      for (const e of request.body.events) {
        // Xero events carry no id of their own: resource, time and type together name one, and a redelivery repeats them.
        const id = [e.resourceId, e.eventDateUtc, e.eventType].join(':');
        const category = e.eventCategory.toUpperCase();
        if (e.tenantId.toLowerCase() !== ctx.settings.tenantId.toLowerCase()) {
          ctx.log.info({ tenantId: e.tenantId, eventId: id }, 'ignoring a Xero event for another organisation');
        } else if (isCategory(category)) {
          const change: XeroChange = { tenantId: e.tenantId, category, resourceId: e.resourceId, eventType: e.eventType };
          if (!ChangeCheck.Check(change)) throw new HubError('VALIDATION', `Xero event ${id}: resourceId is not a Xero id`);
          events.push({ id, payload: change });
        }
      }
      // An Intent to Receive delivery (events: []) lands here too: 200, empty body, within 5 s.
      return { events, reply: { status: 200 } };
    },
  },
  async prepare(ctx, event) {
    if (!ChangeCheck.Check(event.payload)) throw new HubError('VALIDATION', `queued Xero event ${event.id} is not a change reference: ${describe(ChangeCheck.Errors(event.payload))}`);
    const change = event.payload;
    const url = `${ctx.settings.baseUrl}/api.xro/2.0/${CATEGORIES[change.category]}/${change.resourceId}`;
    const response = await api(ctx).request({ method: 'GET', url, headers: auth(ctx.settings) });
    const body: unknown = response.data;
    const hub = { tenantId: change.tenantId, eventType: change.eventType };
    if (change.category === 'CONTACT') {
      if (!ContactsResponse.Check(body)) throw new HubError('UPSTREAM_REJECTED', `Xero answered GET Contacts/${change.resourceId} with a body that is not one contact: ${describe(ContactsResponse.Errors(body))}`);
      const [contact] = body.Contacts;
      if (contact?.ContactID.toLowerCase() !== change.resourceId.toLowerCase()) throw new HubError('UPSTREAM_REJECTED', `Xero answered GET Contacts/${change.resourceId} with contact ${contact?.ContactID}`);
      const phones = (contact.Phones ?? []).map(xeroPhone).filter((p): p is string => p !== undefined);
      return [{ Contact: contact, hub: { ...hub, phones } }];
    }
    if (!InvoicesResponse.Check(body)) throw new HubError('UPSTREAM_REJECTED', `Xero answered GET Invoices/${change.resourceId} with a body that is not one invoice: ${describe(InvoicesResponse.Errors(body))}`);
    const [invoice] = body.Invoices;
    if (invoice?.InvoiceID.toLowerCase() !== change.resourceId.toLowerCase()) throw new HubError('UPSTREAM_REJECTED', `Xero answered GET Invoices/${change.resourceId} with invoice ${invoice?.InvoiceID}`);
    return [{ Invoice: invoice, hub }];
  },
});
