import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, waitFor, type TestHub } from '../support/hub.js';

const fixture = (name: string) => readFileSync(new URL(`../../../shared/fixtures/${name}`, import.meta.url));

// Vectors from the fixtures' .source files.
const QBO_TOKEN = '43c97e5c-99f9-4cb2-82ee-ce64ce90b751';
const QBO_SIGNATURE = 'HmuXsvKpPUvvUQbu6PT766iNcZZ9SekX+CES5b0e7y4=';
const XERO_KEY = 'xero_webhook_test_secret';
const XERO_ITR_SIGNATURE = 'hnekiT0GuNX9rRmSlg0oxCxyBHwzBcb0J24w8gQbXo0=';
const BITRIX_TOKEN = '3c6c9248ec54af6bea1159b43ee0ab32';

const REALM = '4620816365020074550';
const FLAKY_REALM = '123146177888';
const TENANT = 'c2cc9b6e-9458-4c7d-93cc-f02b81b0594f';
const CONTACT_ID = '717f2bfc-c6d4-41fd-b238-3f2f0c0cf777';
const INVOICE_ID = '243216c5-369e-4056-ac67-05388f86dc81';
const QBO = 'https://quickbooks.api.intuit.com';
const XERO = 'https://api.xero.com';
const BITRIX = 'https://b24-k3x9qz.bitrix24.com';

const sign = (key: string, body: Buffer | string) => createHmac('sha256', key).update(body).digest('base64');
const bitrixBody = fixture('bitrix24_oncrmcontactadd.txt')
  .toString('utf8')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.startsWith('#'))
  .join('');

// API answers shaped as the vendors document them; the unit tests hold fuller ones.
const qboCustomer = {
  Customer: {
    Id: '58',
    SyncToken: '3',
    MetaData: { CreateTime: '2019-10-28T10:11:04-07:00', LastUpdatedTime: '2019-10-30T08:29:54-07:00' },
    GivenName: 'Amy',
    FamilyName: 'Lauterbach',
    CompanyName: "Amy's Bird Sanctuary",
    DisplayName: "Amy's Bird Sanctuary",
    Active: true,
    PrimaryPhone: { FreeFormNumber: '(650) 555-3311' },
    PrimaryEmailAddr: { Address: 'Birds@Intuit.com' },
    CurrencyRef: { value: 'USD', name: 'United States Dollar' },
  },
  time: '2019-10-30T08:30:02.211-07:00',
};
const qboInvoice = {
  Invoice: {
    Id: '163',
    SyncToken: '0',
    DocNumber: '1038',
    TxnDate: '2019-10-30',
    CurrencyRef: { value: 'USD', name: 'United States Dollar' },
    Line: [{ Id: '1', LineNum: 1, Amount: 275.0, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: { value: '3', name: 'Concrete' }, UnitPrice: 275, Qty: 1 } }],
    CustomerRef: { value: '58', name: "Amy's Bird Sanctuary" },
    DueDate: '2019-11-29',
    TotalAmt: 275.0,
    Balance: 275.0,
  },
  time: '2019-10-30T08:30:01.372-07:00',
};
const xeroContacts = {
  Status: 'OK',
  Contacts: [{ ContactID: CONTACT_ID, ContactStatus: 'ACTIVE', Name: 'Bayside Club', FirstName: 'Bob', LastName: 'Partridge', EmailAddress: 'secretarybob@bsclub.co', Phones: [{ PhoneType: 'DEFAULT', PhoneNumber: '3774422', PhoneAreaCode: '9', PhoneCountryCode: '64' }] }],
};
const xeroInvoices = {
  Status: 'OK',
  Invoices: [{ Type: 'ACCREC', InvoiceID: INVOICE_ID, InvoiceNumber: 'INV-0001', Contact: { ContactID: CONTACT_ID, Name: 'Bayside Club' }, DateString: '2017-06-20T00:00:00', Status: 'AUTHORISED', Total: 396.0, CurrencyCode: 'NZD' }],
};
const bitrixContact = {
  result: { ID: '134806', NAME: 'Иван', LAST_NAME: 'Сидоров', DATE_MODIFY: '2024-09-22T18:28:46+03:00', PHONE: [{ ID: '2882', VALUE_TYPE: 'WORK', VALUE: '+7 (916) 123-45-67', TYPE_ID: 'PHONE' }], EMAIL: [{ ID: '2884', VALUE_TYPE: 'WORK', VALUE: 'i.sidorov@example.ru', TYPE_ID: 'EMAIL' }] },
  time: { start: 1727018927.1, finish: 1727018927.15, duration: 0.05 },
};

function legacyDelivery(realmId: string, name: string, id: string, lastUpdated: string): string {
  return JSON.stringify({ eventNotifications: [{ realmId, dataChangeEvent: { entities: [{ name, id, operation: 'Update', lastUpdated }] } }] });
}

describe('ERP webhooks: QuickBooks Online, Xero, Bitrix24', () => {
  let hub: TestHub;
  const unmatched: string[] = [];
  const onNoMatch = (req: { method?: string; path?: string }) => unmatched.push(`${req.method} ${req.path}`);

  beforeAll(async () => {
    nock.disableNetConnect();
    nock.enableNetConnect(/127\.0\.0\.1|localhost/);
    nock.emitter.on('no match', onNoMatch);
    hub = await startTestHub({
      store: 'postgres',
      config: {
        identity: { defaultCountry: 'US' },
        rateLimit: { publicMax: 1000 },
        connectors: [
          { id: 'qbo', type: 'quickbooks', settings: { verifierToken: QBO_TOKEN, accessToken: 'qbo-access', realmId: REALM, retries: 1 } },
          { id: 'xero', type: 'xero', settings: { webhookKey: XERO_KEY, accessToken: 'xero-access', tenantId: TENANT } },
          { id: 'bitrix', type: 'bitrix24', settings: { applicationToken: BITRIX_TOKEN, restUrl: `${BITRIX}/rest/1/k8w2hook/` } },
          { id: 'qbo-flaky', type: 'quickbooks', settings: { verifierToken: QBO_TOKEN, accessToken: 'qbo-access', realmId: FLAKY_REALM, retries: 0, timeoutMs: 300 } },
        ],
      },
    });
  });
  afterEach(() => {
    expect(unmatched).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });
  afterAll(async () => {
    nock.emitter.removeListener('no match', onNoMatch);
    nock.cleanAll();
    nock.enableNetConnect();
    await hub?.close();
  });

  function post(connectorId: string, body: Buffer | string, headers: Record<string, string>, contentType = 'application/json') {
    return hub.app!.inject({ method: 'POST', url: `/v1/webhooks/${connectorId}`, headers: { 'content-type': contentType, ...headers }, payload: body });
  }
  const record = async (source: string, sourceId: string) => (await hub.request('GET', `/v1/records/${source}/${encodeURIComponent(sourceId)}`)).json() as { status: string; profileId?: string; error?: string };
  const processed = (source: string, sourceId: string) => waitFor(async () => (await record(source, sourceId)).status === 'processed');
  const status = async (id: string) => (await hub.request('GET', `/v1/connectors/${id}`)).json();
  // A connector's counts and last error are written after its records are queued, so they can trail a processed record.
  const settles = (id: string, expected: Record<string, unknown>, timeoutMs?: number) =>
    waitFor(async () => {
      const current = await status(id);
      return Object.entries(expected).every(([k, v]) => (v instanceof RegExp ? v.test(String(current[k])) : JSON.stringify(current[k]) === JSON.stringify(v)));
    }, timeoutMs);
  const eventJobs = () => hub.connectors.queues[0]!.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
  const eventsIdle = () => waitFor(async () => Object.values(await hub.connectors.queues[0]!.getJobCounts('waiting', 'active', 'delayed')).every((n) => n === 0));

  it('refuses unsigned, tampered and wrongly signed deliveries with 401 and queues nothing', async () => {
    const before = await eventJobs();
    const qbo = fixture('quickbooks_webhook.json');
    const tampered = Buffer.from(qbo.toString('utf8').replace('"163"', '"164"'));
    expect((await post('qbo', tampered, { 'intuit-signature': QBO_SIGNATURE })).statusCode).toBe(401);
    expect((await post('qbo', qbo, {})).statusCode).toBe(401);
    expect((await hub.app!.inject({ method: 'GET', url: '/v1/webhooks/qbo' })).statusCode).toBe(401);
    const xero = fixture('xero_webhook_event.json');
    expect((await post('xero', xero, { 'x-xero-signature': sign('another-webhook-key-000', xero) })).statusCode).toBe(401);
    const forged = bitrixBody.replace(BITRIX_TOKEN, 'f'.repeat(BITRIX_TOKEN.length));
    expect((await post('bitrix', forged, {}, 'application/x-www-form-urlencoded')).statusCode).toBe(401);
    expect(await eventJobs()).toEqual(before);
  });

  it('QuickBooks: a customer and the real invoice notification land on one profile; a redelivery changes nothing', async () => {
    const api = nock(QBO, { reqheaders: { authorization: 'Bearer qbo-access' } });
    api.get(`/v3/company/${REALM}/customer/58`).query({ minorversion: '75' }).reply(200, qboCustomer);
    // One 503 first: the client retries it (retries: 1) before the worker sees anything.
    api.get(`/v3/company/${REALM}/invoice/163`).query(true).reply(503, 'upstream connect error').get(`/v3/company/${REALM}/invoice/163`).query(true).reply(200, qboInvoice);

    const cloudEvents = JSON.stringify([
      { specversion: '1.0', id: '0f8c7a52-6e1b-4f0e-9d7a-3b2c1d0e9f8a', source: 'intuit.accounting', type: 'qbo.customer.updated.v1', datacontenttype: 'application/json', time: '2019-10-30T15:29:54.000Z', intuitentityid: '58', intuitaccountid: REALM, data: {} },
    ]);
    const first = await post('qbo', cloudEvents, { 'intuit-signature': sign(QBO_TOKEN, cloudEvents) }, 'application/cloudevents-batch+json');
    expect(first.statusCode).toBe(200);
    expect(first.body).toBe('');
    const invoice = await post('qbo', fixture('quickbooks_webhook.json'), { 'intuit-signature': QBO_SIGNATURE });
    expect(invoice.statusCode).toBe(200);
    await processed('quickbooks', 'customer/58');
    await processed('quickbooks', 'invoice/163');
    await hub.drained();

    const profiles = (await hub.request('GET', '/v1/profiles?externalId=quickbooks:customer/58')).json();
    expect(profiles.data).toHaveLength(1);
    const profileId = profiles.data[0].id as string;
    expect((await record('quickbooks', 'invoice/163')).profileId).toBe(profileId);
    const profile = (await hub.request('GET', `/v1/profiles/${profileId}`)).json();
    expect(profile.traits).toMatchObject({ firstName: 'Amy', lastName: 'Lauterbach', company: "Amy's Bird Sanctuary" });
    const timeline = (await hub.request('GET', `/v1/profiles/${profileId}/timeline`)).json();
    expect(timeline.data).toEqual([expect.objectContaining({ channel: 'invoice', direction: 'outbound', amount: 275, currency: 'USD', subject: 'Invoice 1038', occurredAt: '2019-10-30T00:00:00.000Z' })]);

    await eventsIdle();
    const counts = await hub.store.counts();
    const jobs = await eventJobs();
    const again = await post('qbo', fixture('quickbooks_webhook.json'), { 'intuit-signature': QBO_SIGNATURE });
    expect(again.statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await hub.drained();
    expect(await eventJobs()).toEqual(jobs);
    expect(await hub.store.counts()).toEqual(counts);
    expect((await hub.request('GET', `/v1/profiles/${profileId}/timeline`)).json().data).toEqual(timeline.data);
    await settles('qbo', { status: 'ok', breaker: 'closed' });
    expect(await status('qbo')).toMatchObject({ type: 'quickbooks', mode: ['webhook'], stats: { processed: 2, failed: 0 } });
  });

  it('QuickBooks: a delete is acknowledged and fetches nothing', async () => {
    const body = JSON.stringify({ eventNotifications: [{ realmId: REALM, dataChangeEvent: { entities: [{ name: 'Customer', id: '58', operation: 'Delete', lastUpdated: '2019-11-01T10:00:00.000Z' }] } }] });
    await eventsIdle();
    const jobs = await eventJobs();
    const res = await post('qbo', body, { 'intuit-signature': sign(QBO_TOKEN, body) });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    expect(await eventJobs()).toEqual(jobs);
    expect((await record('quickbooks', 'customer/58')).status).toBe('processed');
  });

  it('Xero: answers Intent to Receive as Xero expects, then maps a contact and its invoice onto one profile', async () => {
    const itr = fixture('xero_intent_to_receive.json');
    const good = await post('xero', itr, { 'x-xero-signature': XERO_ITR_SIGNATURE });
    expect(good.statusCode).toBe(200);
    expect(good.body).toBe('');
    expect((await post('xero', itr, { 'x-xero-signature': XERO_ITR_SIGNATURE.replace('h', 'H') })).statusCode).toBe(401);

    const api = nock(XERO, { reqheaders: { authorization: 'Bearer xero-access', 'xero-tenant-id': TENANT } });
    api.get(`/api.xro/2.0/Contacts/${CONTACT_ID}`).reply(200, xeroContacts);
    api.get(`/api.xro/2.0/Invoices/${INVOICE_ID}`).reply(200, xeroInvoices);
    const contactEvent = fixture('xero_webhook_event.json');
    expect((await post('xero', contactEvent, { 'x-xero-signature': sign(XERO_KEY, contactEvent) })).statusCode).toBe(200);
    const invoiceEvent = JSON.stringify({
      events: [{ resourceUrl: `${XERO}/api.xro/2.0/Invoices/${INVOICE_ID}`, resourceId: INVOICE_ID, eventDateUtc: '2017-06-21T01:16:02.113', eventType: 'CREATE', eventCategory: 'INVOICE', tenantId: TENANT, tenantType: 'ORGANISATION' }],
      lastEventSequence: 2,
      firstEventSequence: 2,
      entropy: 'KJHGFDSAQWERTYUI',
    });
    expect((await post('xero', invoiceEvent, { 'x-xero-signature': sign(XERO_KEY, invoiceEvent) })).statusCode).toBe(200);
    await processed('xero', `contact/${CONTACT_ID}`);
    await processed('xero', `invoice/${INVOICE_ID}`);
    const contact = await record('xero', `contact/${CONTACT_ID}`);
    expect((await record('xero', `invoice/${INVOICE_ID}`)).profileId).toBe(contact.profileId);
    const profile = (await hub.request('GET', '/v1/profiles?phone=%2B6493774422')).json();
    expect(profile.data.map((p: { id: string }) => p.id)).toEqual([contact.profileId]);
    const timeline = (await hub.request('GET', `/v1/profiles/${contact.profileId}/timeline`)).json();
    expect(timeline.data).toEqual([expect.objectContaining({ channel: 'invoice', amount: 396, currency: 'NZD', status: 'authorised' })]);
  });

  it('Xero: an answer that is not a contact fails the event with a clear error, shown on the connector', async () => {
    const otherId = '9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
    nock(XERO).get(`/api.xro/2.0/Contacts/${otherId}`).reply(200, { Status: 'OK', Contacts: [] });
    const body = JSON.stringify({ events: [{ resourceUrl: `${XERO}/api.xro/2.0/Contacts/${otherId}`, resourceId: otherId, eventDateUtc: '2017-06-22T09:00:00.000', eventType: 'UPDATE', eventCategory: 'CONTACT', tenantId: TENANT, tenantType: 'ORGANISATION' }], lastEventSequence: 3, firstEventSequence: 3, entropy: 'ZXCVBNMASDFGHJKL' });
    expect((await post('xero', body, { 'x-xero-signature': sign(XERO_KEY, body) })).statusCode).toBe(200);
    await settles('xero', { status: 'error', lastError: /not one contact/ });
    expect((await status('xero')).stats.failed).toBe(1);
  });

  it('Bitrix24: the captured ONCRMCONTACTADD becomes the contact crm.contact.get returns; a redelivery changes nothing', async () => {
    nock(BITRIX).get('/rest/1/k8w2hook/crm.contact.get.json').query({ id: '134806' }).reply(200, bitrixContact);
    const res = await post('bitrix', bitrixBody, {}, 'application/x-www-form-urlencoded');
    expect(res.statusCode).toBe(202);
    await processed('bitrix24', 'contact/134806');
    await hub.drained();
    const found = (await hub.request('GET', '/v1/profiles?email=i.sidorov@example.ru')).json();
    expect(found.data).toHaveLength(1);
    expect(found.data[0].traits).toMatchObject({ firstName: 'Иван', lastName: 'Сидоров' });

    await eventsIdle();
    const counts = await hub.store.counts();
    const jobs = await eventJobs();
    expect((await post('bitrix', bitrixBody, {}, 'application/x-www-form-urlencoded')).statusCode).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await eventJobs()).toEqual(jobs);
    expect(await hub.store.counts()).toEqual(counts);
  });

  it('opens the breaker after repeated API failures (errors and timeouts), shows it, and closes it after the reset time', async () => {
    // Hub defaults: the breaker opens after 5 failed calls in its window and lets one through after 30 s.
    const path = (id: string) => `/v3/company/${FLAKY_REALM}/customer/${id}`;
    nock(QBO).get(path('1')).query(true).times(3).reply(500, { Fault: { Error: [{ Message: 'An application error has occurred' }], type: 'SystemFault' } });
    nock(QBO).get(path('2')).query(true).times(2).delay(2000).reply(200, qboCustomer);
    const started = Date.now();
    for (const id of ['1', '2']) {
      const body = legacyDelivery(FLAKY_REALM, 'Customer', id, '2024-03-12T16:14:31.000Z');
      const res = await post('qbo-flaky', body, { 'intuit-signature': sign(QBO_TOKEN, body) });
      expect(res.statusCode).toBe(200);
    }
    // Both answered long before the API would have (QuickBooks wants 200 within 3 s).
    expect(Date.now() - started).toBeLessThan(3000);
    await settles('qbo-flaky', { breaker: 'open', status: 'error', lastError: /circuit breaker is open|did not answer|answered 500/ }, 15_000);
    await waitFor(async () => (await status('qbo-flaky')).stats.failed === 2, 15_000);
    // The delayed replies were cut off by the client's timeout; let them run out before checking the mocks.
    nock.abortPendingRequests();
    nock.cleanAll();

    await settles('qbo-flaky', { breaker: 'halfOpen' }, 40_000);
    const healthy = { ...qboCustomer, Customer: { ...qboCustomer.Customer, Id: '3', PrimaryEmailAddr: { Address: 'recovered@example.com' } } };
    nock(QBO).get(path('3')).query(true).reply(200, healthy);
    const body = legacyDelivery(FLAKY_REALM, 'Customer', '3', '2024-03-12T16:20:00.000Z');
    expect((await post('qbo-flaky', body, { 'intuit-signature': sign(QBO_TOKEN, body) })).statusCode).toBe(200);
    await processed('quickbooks', 'customer/3');
    await settles('qbo-flaky', { status: 'ok', breaker: 'closed' });
  });
});
