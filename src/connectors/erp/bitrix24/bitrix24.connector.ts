import { timingSafeEqual } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { fieldErrors } from '../../../core/api/problem.js';
import { HubError } from '../../../core/errors.js';
import { defineConnector, type ConnectorContext, type WebhookEvent } from '../../connector.js';
import { bitrix24Mapping } from './bitrix24.mapping.js';

const ENDPOINT = 'bitrix24-api';

const Settings = Type.Object(
  {
    applicationToken: Type.String({ minLength: 16, description: 'the application token Bitrix24 shows for the outbound webhook (or sends at app install); use ${ENV_VAR}' }),
    restUrl: Type.String({
      pattern: '^https?://[^/]+/rest/[0-9]+/[^/]+/?$',
      description: 'an inbound webhook with the crm scope, e.g. https://example.bitrix24.com/rest/1/abc123/ (the URL is the secret: use ${ENV_VAR})',
    }),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000, description: 'per API call; default: the hub’s (10 s)' })),
    retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'retries of a failed API call; default: the hub’s (3)' })),
  },
  { additionalProperties: false },
);
type Bitrix24Settings = Static<typeof Settings>;

/** The events this connector fetches a contact for; other events are acknowledged and dropped. */
export const BITRIX24_EVENTS = ['ONCRMCONTACTADD', 'ONCRMCONTACTUPDATE'] as const;

// Outbound events are form posts with PHP-style keys, which stay flat after parsing
// (https://dev.1c-bitrix.ru/rest_help/rest_sum/events/events.php).
const TOKEN_FIELD = 'auth[application_token]';
const Delivery = Compile(
  Type.Object({
    event: Type.String({ minLength: 1 }),
    'data[FIELDS][ID]': Type.String({ pattern: '^[0-9]+$' }),
    ts: Type.String({ pattern: '^[0-9]+$' }),
  }),
);

const Change = Type.Object({ event: Type.String({ minLength: 1 }), contactId: Type.String({ pattern: '^[0-9]+$' }) });
/** What a queued event carries: the event name and the id of the contact to fetch. */
export type Bitrix24Change = Static<typeof Change>;
const ChangeCheck = Compile(Change);

const MultiField = Type.Optional(Type.Array(Type.Object({ VALUE: Type.String() })));
const ContactResponse = Compile(Type.Object({ result: Type.Object({ ID: Type.Union([Type.String({ minLength: 1 }), Type.Integer()]), EMAIL: MultiField, PHONE: MultiField }) }));
const FieldsResponse = Compile(Type.Object({ result: Type.Object({}) }));

function describe(errors: Parameters<typeof fieldErrors>[0]): string {
  return fieldErrors(errors.slice(0, 3)).map((e) => `${e.path} ${e.message}`).join('; ');
}

function field(body: unknown, name: string): unknown {
  return body !== null && typeof body === 'object' && Object.prototype.hasOwnProperty.call(body, name) ? (body as Record<string, unknown>)[name] : undefined;
}

// The webhook URL holds its secret, so it goes in as baseURL: error messages name only the method.
function call(settings: Bitrix24Settings, name: string) {
  return { method: 'GET', baseURL: settings.restUrl.replace(/\/?$/, '/'), url: `${name}.json` } as const;
}

function api(ctx: ConnectorContext<Bitrix24Settings>) {
  return ctx.http(ENDPOINT, { timeoutMs: ctx.settings.timeoutMs, retries: ctx.settings.retries });
}

function values(list: { VALUE: string }[] | undefined): string[] {
  return (list ?? []).map((v) => v.VALUE.trim()).filter((v) => v !== '');
}

/**
 * Bitrix24 CRM contact events (`ONCRMCONTACTADD`, `ONCRMCONTACTUPDATE`), checked against the
 * application token. An event carries only the contact id, so the contact is fetched with
 * `crm.contact.get` through an inbound webhook of the portal, in the worker.
 */
export const bitrix24Connector = defineConnector({
  type: 'bitrix24',
  version: 1,
  description: 'Bitrix24 CRM contact events, the contact fetched through the REST API',
  settingsSchema: Settings,
  mappings: [bitrix24Mapping],
  async test(ctx) {
    const response = await api(ctx).request(call(ctx.settings, 'crm.contact.fields'));
    if (!FieldsResponse.Check(response.data)) throw new HubError('UPSTREAM_REJECTED', 'Bitrix24 answered crm.contact.fields with something that is not a field list');
    return `Bitrix24 portal ${new URL(ctx.settings.restUrl).host} answered crm.contact.fields`;
  },
  webhook: {
    verify(ctx, request) {
      // No HMAC in Bitrix24: the token the portal sends with every event is the proof (b24phpsdk compares it the same way).
      const given = field(request.body, TOKEN_FIELD);
      if (typeof given !== 'string' || given === '') throw new HubError('UNAUTHORIZED', `missing ${TOKEN_FIELD}`);
      const expected = Buffer.from(ctx.settings.applicationToken);
      const actual = Buffer.from(given);
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new HubError('UNAUTHORIZED', `${TOKEN_FIELD} is not this connector’s token`);
    },
    accept(ctx, request) {
      const name = field(request.body, 'event');
      if (typeof name !== 'string' || !(BITRIX24_EVENTS as readonly string[]).includes(name.toUpperCase())) {
        ctx.log.info({ event: name }, 'ignoring a Bitrix24 event this connector does not handle');
        return { events: [] };
      }
      if (!Delivery.Check(request.body)) {
        const errors = Delivery.Errors(request.body);
        throw new HubError('VALIDATION', `not a Bitrix24 contact event: ${describe(errors)}`, { errors: fieldErrors(errors) });
      }
      const contactId = request.body['data[FIELDS][ID]'];
      const event = name.toUpperCase();
      // ts has one-second resolution: two updates of one contact within a second count as one (the fetch reads the latest state anyway).
      const events: WebhookEvent[] = [{ id: [event, contactId, request.body.ts].join(':'), payload: { event, contactId } satisfies Bitrix24Change }];
      return { events };
    },
  },
  async prepare(ctx, event) {
    if (!ChangeCheck.Check(event.payload)) throw new HubError('VALIDATION', `queued Bitrix24 event ${event.id} is not a change reference: ${describe(ChangeCheck.Errors(event.payload))}`);
    const { contactId } = event.payload;
    const response = await api(ctx).request({ ...call(ctx.settings, 'crm.contact.get'), params: { id: contactId } });
    const body: unknown = response.data;
    if (!ContactResponse.Check(body)) {
      const said = field(body, 'error_description');
      throw new HubError('UPSTREAM_REJECTED', `Bitrix24 answered crm.contact.get ${contactId} with ${typeof said === 'string' ? `"${said}"` : `a body that is not a contact: ${describe(ContactResponse.Errors(body))}`}`);
    }
    if (String(body.result.ID) !== contactId) throw new HubError('UPSTREAM_REJECTED', `Bitrix24 answered crm.contact.get ${contactId} with contact ${body.result.ID}`);
    return [{ result: body.result, hub: { event: event.payload.event, emails: values(body.result.EMAIL), phones: values(body.result.PHONE) } }];
  },
});
