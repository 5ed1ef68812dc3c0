import nock from 'nock';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectorContext } from '../../src/connectors/connector.js';
import { createHttpClient, type HttpClient, type HttpClientOptions } from '../../src/connectors/http-client.js';
import { HubError } from '../../src/core/errors.js';
import { bitrix24Connector } from '../../src/connectors/erp/bitrix24/bitrix24.connector.js';
import { quickbooksConnector } from '../../src/connectors/erp/quickbooks/quickbooks.connector.js';
import { xeroConnector } from '../../src/connectors/erp/xero/xero.connector.js';

const log = pino({ level: 'silent' });
const REALM = '4620816365020074550';
const TENANT = 'c2cc9b6e-9458-4c7d-93cc-f02b81b0594f';
const CONTACT_ID = '717f2bfc-c6d4-41fd-b238-3f2f0c0cf777';
const QBO = 'https://quickbooks.api.intuit.com';
const BITRIX = 'https://example.bitrix24.com';

const qboSettings = { verifierToken: '43c97e5c-99f9-4cb2-82ee-ce64ce90b751', accessToken: 'qbo-access-token', realmId: REALM, baseUrl: QBO };
const xeroSettings = { webhookKey: 'xero_webhook_test_secret', accessToken: 'xero-access-token', tenantId: TENANT, baseUrl: 'https://api.xero.com' };
const bitrixSettings = { applicationToken: '3c6c9248ec54af6bea1159b43ee0ab32', restUrl: `${BITRIX}/rest/1/s3cr3tw3bh00k/` };

const customerEvent = { id: `${REALM}:Customer:58:Update:2024-03-12T16:14:31.000Z`, payload: { realmId: REALM, entity: 'Customer', id: '58', operation: 'Update' } };
const customer = { Customer: { Id: '58', DisplayName: 'Amy’s Bird Sanctuary', GivenName: 'Amy', FamilyName: 'Lauterbach', PrimaryEmailAddr: { Address: 'Birds@Intuit.com' } }, time: '2024-03-12T09:20:01.123-07:00' };

/** A connector context whose API client is the hub's, tuned so that failures show in milliseconds. */
function context<S>(settings: S, tuning: Partial<HttpClientOptions> = {}): { ctx: ConnectorContext<S>; client: HttpClient } {
  const client = createHttpClient({ name: 'test/api', log, timeoutMs: 200, retries: 2, backoffMs: 5, maxBackoffMs: 50, ...tuning });
  return { client, ctx: { id: 'test', settings, log, http: () => client, memory: { get: async () => undefined, set: async () => undefined } } };
}

/** The HubError a promise rejects with; fails when it resolves or rejects with anything else. */
async function failure(promise: Promise<unknown>): Promise<HubError> {
  const err = await promise.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubError);
  return err as HubError;
}

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

describe('fetching what a webhook names', () => {
  it('retries a 5xx and then maps what came', async () => {
    const { ctx } = context(qboSettings);
    const scope = nock(QBO).get(`/v3/company/${REALM}/customer/58`).query(true).times(2).reply(503, 'Service Unavailable').get(`/v3/company/${REALM}/customer/58`).query(true).reply(200, customer);
    const payloads = await quickbooksConnector.prepare!(ctx, customerEvent);
    expect(scope.isDone()).toBe(true);
    expect(payloads).toEqual([{ ...customer, hub: { realmId: REALM, operation: 'Update' } }]);
  });

  it('waits as long as a 429 asks before it tries again', async () => {
    const { ctx } = context(xeroSettings, { maxBackoffMs: 5000 });
    const contacts = { Contacts: [{ ContactID: CONTACT_ID, Name: 'Bayside Club', Phones: [] }] };
    nock('https://api.xero.com').get(`/api.xro/2.0/Contacts/${CONTACT_ID}`).reply(429, 'Rate limit exceeded', { 'retry-after': '1', 'x-rate-limit-problem': 'minute' }).get(`/api.xro/2.0/Contacts/${CONTACT_ID}`).reply(200, contacts);
    const started = Date.now();
    const payloads = await xeroConnector.prepare!(ctx, { id: 'e', payload: { tenantId: TENANT, category: 'CONTACT', resourceId: CONTACT_ID, eventType: 'UPDATE' } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(payloads).toEqual([{ Contact: contacts.Contacts[0], hub: { tenantId: TENANT, eventType: 'UPDATE', phones: [] } }]);
  });

  it('gives up on an API that does not answer in time with a retryable error, so the queue tries later', async () => {
    const { ctx } = context(bitrixSettings, { timeoutMs: 100, retries: 1 });
    nock(BITRIX).get('/rest/1/s3cr3tw3bh00k/crm.contact.get.json').query({ id: '134806' }).times(2).delay(400).reply(200, { result: { ID: '134806' } });
    const err = await failure(bitrix24Connector.prepare!(ctx, { id: 'e', payload: { event: 'ONCRMCONTACTADD', contactId: '134806' } }));
    expect(err.code).toBe('HUB_ERR_UPSTREAM_UNAVAILABLE');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/did not answer .* after 2 attempts/);
    // The inbound webhook URL carries its secret; it must not show in errors.
    expect(err.message).not.toContain('s3cr3t');
  });

  it('refuses malformed answers with a non-retryable error that says what was wrong', async () => {
    const { ctx: qbo } = context(qboSettings);
    nock(QBO).get(`/v3/company/${REALM}/customer/58`).query(true).reply(200, '<html><body>Maintenance</body></html>', { 'content-type': 'text/html' });
    let err = await failure(quickbooksConnector.prepare!(qbo, customerEvent));
    expect(err.code).toBe('HUB_ERR_UPSTREAM_REJECTED');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/not a Customer/);

    nock(QBO).get(`/v3/company/${REALM}/customer/58`).query(true).reply(200, { Customer: { Id: '59' }, time: '2024-03-12T09:20:01.123-07:00' });
    err = await failure(quickbooksConnector.prepare!(qbo, customerEvent));
    expect(err.message).toMatch(/with Customer 59/);

    nock(QBO).get(`/v3/company/${REALM}/invoice/163`).query(true).reply(200, { Invoice: { Id: '163', TotalAmt: '275.00', CustomerRef: { value: '58' } } });
    err = await failure(quickbooksConnector.prepare!(qbo, { id: 'i', payload: { realmId: REALM, entity: 'Invoice', id: '163', operation: 'Create' } }));
    expect(err.message).toMatch(/TotalAmt/);

    const { ctx: xero } = context(xeroSettings);
    nock('https://api.xero.com').get(`/api.xro/2.0/Contacts/${CONTACT_ID}`).reply(200, { Contacts: [] });
    err = await failure(xeroConnector.prepare!(xero, { id: 'e', payload: { tenantId: TENANT, category: 'CONTACT', resourceId: CONTACT_ID, eventType: 'UPDATE' } }));
    expect(err.code).toBe('HUB_ERR_UPSTREAM_REJECTED');
    expect(err.message).toMatch(/not one contact/);

    const { ctx: bitrix } = context(bitrixSettings);
    nock(BITRIX).get('/rest/1/s3cr3tw3bh00k/crm.contact.get.json').query(true).reply(200, { error: 'ACCESS_DENIED', error_description: 'Access denied.' });
    err = await failure(bitrix24Connector.prepare!(bitrix, { id: 'e', payload: { event: 'ONCRMCONTACTADD', contactId: '134806' } }));
    expect(err.message).toMatch(/"Access denied\."/);
  });

  it('does not retry what the API refuses (gone, bad token), and that does not count against the breaker', async () => {
    const { ctx, client } = context(qboSettings, { volumeThreshold: 1 });
    const fault = { Fault: { Error: [{ Message: 'Object Not Found', Detail: 'Object Not Found : Something you are trying to use has been made inactive or deleted.', code: '610', element: '' }], type: 'ValidationFault' }, time: '2024-03-12T09:20:01.123-07:00' };
    nock(QBO).get(`/v3/company/${REALM}/customer/58`).query(true).reply(400, fault).get(`/v3/company/${REALM}/customer/58`).query(true).reply(401, { fault: { error: [{ message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401' }], type: 'AUTHENTICATION' } });
    for (const status of [400, 401]) {
      const err = await failure(quickbooksConnector.prepare!(ctx, customerEvent));
      expect(err.code).toBe('HUB_ERR_UPSTREAM_REJECTED');
      expect(err.message).toContain(`answered ${status}`);
    }
    expect(client.state()).toBe('closed');
  });

  it('refuses a queued event it did not write', async () => {
    const { ctx } = context(qboSettings);
    const err = await failure(quickbooksConnector.prepare!(ctx, { id: 'x', payload: { realmId: REALM, entity: 'Vendor', id: '1', operation: 'Create' } }));
    expect(err.code).toBe('HUB_ERR_VALIDATION');
  });
});

describe('circuit breaker around an ERP API', () => {
  it('opens after repeated failures, fails fast while open, and closes after a good call once the reset time is over', async () => {
    const { ctx, client } = context(qboSettings, { retries: 0, volumeThreshold: 3, resetTimeoutMs: 300 });
    const failing = nock(QBO).get(`/v3/company/${REALM}/customer/58`).query(true).times(3).reply(500, { Fault: { Error: [{ Message: 'An application error has occurred' }], type: 'SystemFault' } });
    for (let i = 0; i < 3; i += 1) expect((await failure(quickbooksConnector.prepare!(ctx, customerEvent))).message).toMatch(/answered 500/);
    expect(failing.isDone()).toBe(true);
    expect(client.state()).toBe('open');
    // No interceptor is left: a call that reached the network would fail differently.
    const fast = await failure(quickbooksConnector.prepare!(ctx, customerEvent));
    expect(fast.code).toBe('HUB_ERR_UPSTREAM_UNAVAILABLE');
    expect(fast.message).toMatch(/circuit breaker is open/);

    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(client.state()).toBe('halfOpen');
    nock(QBO).get(`/v3/company/${REALM}/customer/58`).query(true).reply(200, customer);
    expect(await quickbooksConnector.prepare!(ctx, customerEvent)).toHaveLength(1);
    expect(client.state()).toBe('closed');
  });
});

describe('connection tests', () => {
  it('names the company, organisation or portal that answered', async () => {
    nock(QBO, { reqheaders: { authorization: 'Bearer qbo-access-token' } })
      .get(`/v3/company/${REALM}/companyinfo/${REALM}`)
      .query({ minorversion: '75' })
      .reply(200, { CompanyInfo: { CompanyName: 'Sandbox Company_US_1', Id: '1', Country: 'US' }, time: '2024-03-12T09:20:01.123-07:00' });
    expect(await quickbooksConnector.test!(context(qboSettings).ctx)).toBe(`QuickBooks company "Sandbox Company_US_1" (realm ${REALM}) answered`);

    nock('https://api.xero.com', { reqheaders: { 'xero-tenant-id': TENANT } }).get('/api.xro/2.0/Organisation').reply(200, { Organisations: [{ Name: 'Demo Company (NZ)', OrganisationID: TENANT }] });
    expect(await xeroConnector.test!(context(xeroSettings).ctx)).toBe(`Xero organisation "Demo Company (NZ)" (tenant ${TENANT}) answered`);

    nock(BITRIX).get('/rest/1/s3cr3tw3bh00k/crm.contact.fields.json').reply(200, { result: { ID: { type: 'integer', isRequired: false } } });
    expect(await bitrix24Connector.test!(context(bitrixSettings).ctx)).toBe('Bitrix24 portal example.bitrix24.com answered crm.contact.fields');
  });
});
