import { readFileSync } from 'node:fs';
import nock from 'nock';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Connector, ConnectorContext, WebhookRequest } from '../../src/connectors/connector.js';
import { createHttpClient } from '../../src/connectors/http-client.js';
import { bitrix24Connector } from '../../src/connectors/erp/bitrix24/bitrix24.connector.js';
import { quickbooksConnector } from '../../src/connectors/erp/quickbooks/quickbooks.connector.js';
import { xeroConnector, xeroPhone } from '../../src/connectors/erp/xero/xero.connector.js';
import { compileMapping } from '../../src/mappings/compile.js';

const fixture = (name: string) => readFileSync(new URL(`../../../shared/fixtures/${name}`, import.meta.url));
const log = pino({ level: 'silent' });

function context<S>(settings: S): ConnectorContext<S> {
  const client = createHttpClient({ name: 'test/api', log, timeoutMs: 2000, retries: 0 });
  return { id: 'test', settings, log, http: () => client, memory: { get: async () => undefined, set: async () => undefined } };
}

function post(rawBody: Buffer, body: unknown): WebhookRequest {
  return { method: 'POST', url: 'http://hub.test/v1/webhooks/x', headers: {}, query: {}, rawBody, body };
}

/** What the hub does with one delivery, minus the queues: accept, prepare each event, map. */
async function deliver<S>(connector: Connector, ctx: ConnectorContext<S>, request: WebhookRequest) {
  const c = connector as unknown as Connector & { webhook: NonNullable<Connector['webhook']> };
  const accepted = await c.webhook.accept(ctx as ConnectorContext<unknown>, request);
  const mapping = compileMapping(connector.mappings[0]!);
  const records = [];
  for (const event of accepted.events) {
    for (const payload of await c.prepare!(ctx as ConnectorContext<unknown>, event)) {
      const result = mapping.apply(payload);
      expect(result.errors).toEqual([]);
      records.push(...result.records);
    }
  }
  return { accepted, records };
}

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  expect(nock.pendingMocks()).toEqual([]);
  nock.cleanAll();
});
afterAll(() => nock.enableNetConnect());

// Bodies as the vendors document them (QuickBooks Accounting API v3 reference, Xero Accounting API, Bitrix24 crm.contact.get).
const REALM = '4620816365020074550';
const qboCustomer = {
  Customer: {
    Taxable: false,
    BillAddr: { Id: '59', Line1: '4581 Finch St.', City: 'Bayshore', CountrySubDivisionCode: 'CA', PostalCode: '94326' },
    Job: false,
    BillWithParent: false,
    Balance: 275,
    BalanceWithJobs: 275,
    CurrencyRef: { value: 'USD', name: 'United States Dollar' },
    PreferredDeliveryMethod: 'Email',
    domain: 'QBO',
    sparse: false,
    Id: '58',
    SyncToken: '3',
    MetaData: { CreateTime: '2019-10-28T10:11:04-07:00', LastUpdatedTime: '2019-10-30T08:29:54-07:00' },
    GivenName: 'Amy',
    FamilyName: 'Lauterbach',
    FullyQualifiedName: "Amy's Bird Sanctuary",
    CompanyName: "Amy's Bird Sanctuary",
    DisplayName: "Amy's Bird Sanctuary",
    PrintOnCheckName: "Amy's Bird Sanctuary",
    Active: true,
    PrimaryPhone: { FreeFormNumber: '(650) 555-3311' },
    Mobile: { FreeFormNumber: '(650) 555-0199' },
    PrimaryEmailAddr: { Address: 'Birds@Intuit.com, amy.accounts@intuit.com' },
  },
  time: '2019-10-30T08:30:02.211-07:00',
};
const qboInvoice = {
  Invoice: {
    AllowIPNPayment: false,
    AllowOnlinePayment: false,
    domain: 'QBO',
    sparse: false,
    Id: '163',
    SyncToken: '0',
    MetaData: { CreateTime: '2019-10-30T08:29:54-07:00', LastUpdatedTime: '2019-10-30T08:29:54-07:00' },
    CustomField: [],
    DocNumber: '1038',
    TxnDate: '2019-10-30',
    CurrencyRef: { value: 'USD', name: 'United States Dollar' },
    LinkedTxn: [],
    Line: [
      { Id: '1', LineNum: 1, Amount: 275.0, DetailType: 'SalesItemLineDetail', SalesItemLineDetail: { ItemRef: { value: '3', name: 'Concrete' }, UnitPrice: 275, Qty: 1, TaxCodeRef: { value: 'NON' } } },
      { Amount: 275.0, DetailType: 'SubTotalLineDetail', SubTotalLineDetail: {} },
    ],
    TxnTaxDetail: { TotalTax: 0 },
    CustomerRef: { value: '58', name: "Amy's Bird Sanctuary" },
    BillAddr: { Id: '59', Line1: '4581 Finch St.', City: 'Bayshore', CountrySubDivisionCode: 'CA', PostalCode: '94326' },
    DueDate: '2019-11-29',
    TotalAmt: 275.0,
    PrintStatus: 'NeedToPrint',
    EmailStatus: 'NotSet',
    BillEmail: { Address: 'Birds@Intuit.com' },
    Balance: 275.0,
  },
  time: '2019-10-30T08:30:01.372-07:00',
};
const qboPayment = {
  Payment: {
    CustomerRef: { value: '58', name: "Amy's Bird Sanctuary" },
    DepositToAccountRef: { value: '4' },
    TotalAmt: 275.0,
    UnappliedAmt: 0,
    ProcessPayment: false,
    domain: 'QBO',
    sparse: false,
    Id: '164',
    SyncToken: '0',
    MetaData: { CreateTime: '2019-11-05T09:12:40-08:00', LastUpdatedTime: '2019-11-05T09:12:40-08:00' },
    TxnDate: '2019-11-05',
    CurrencyRef: { value: 'USD', name: 'United States Dollar' },
    PaymentRefNum: '7781',
    Line: [{ Amount: 275.0, LinkedTxn: [{ TxnId: '163', TxnType: 'Invoice' }] }],
  },
  time: '2019-11-05T09:13:00.000-08:00',
};

describe('QuickBooks Online', () => {
  const ctx = context({ verifierToken: '43c97e5c-99f9-4cb2-82ee-ce64ce90b751', accessToken: 'qbo-access-token', realmId: REALM, baseUrl: 'https://quickbooks.api.intuit.com' });
  const api = () => nock('https://quickbooks.api.intuit.com', { reqheaders: { authorization: 'Bearer qbo-access-token', accept: 'application/json' } });

  it('splits the real legacy delivery into one event keyed by realm, entity, id, operation and time, and answers 200', async () => {
    const raw = fixture('quickbooks_webhook.json');
    const accepted = await quickbooksConnector.webhook!.accept(ctx, post(raw, JSON.parse(raw.toString('utf8'))));
    expect(accepted).toEqual({
      events: [{ id: `${REALM}:Invoice:163:Create:2019-10-30T15:29:54.000Z`, payload: { realmId: REALM, entity: 'Invoice', id: '163', operation: 'Create' } }],
      reply: { status: 200 },
    });
  });

  it('turns the notified invoice into an invoice on the customer, with amount and currency', async () => {
    api().get(`/v3/company/${REALM}/invoice/163`).query({ minorversion: '75' }).reply(200, qboInvoice);
    const raw = fixture('quickbooks_webhook.json');
    const { records } = await deliver(quickbooksConnector as Connector, ctx, post(raw, JSON.parse(raw.toString('utf8'))));
    expect(records).toEqual([
      {
        kind: 'interaction',
        source: 'quickbooks',
        sourceId: 'invoice/163',
        occurredAt: '2019-10-30T00:00:00.000Z',
        identifiers: { emails: ['Birds@Intuit.com'], ids: { quickbooks: 'customer/58' } },
        interaction: {
          channel: 'invoice',
          direction: 'outbound',
          subject: 'Invoice 1038',
          status: 'open',
          amount: 275,
          currency: 'USD',
          data: { realmId: REALM, operation: 'Create' },
        },
      },
    ]);
  });

  it('reads CloudEvents deliveries too: a customer becomes a contact whose external id its invoices name', async () => {
    const shape = JSON.parse(fixture('quickbooks_webhook_cloudevents.shape.json').toString('utf8')) as { _value: Record<string, unknown>[] };
    const delivery = shape._value.map((e) => ({ ...e, id: '9a3c1b7e-2f4d-4e55-8a0b-0c1d2e3f4a5b', source: 'intuit.accounting', intuitentityid: '58', intuitaccountid: REALM }));
    const raw = Buffer.from(JSON.stringify(delivery));
    api().get(`/v3/company/${REALM}/customer/58`).query({ minorversion: '75' }).reply(200, qboCustomer);
    const { accepted, records } = await deliver(quickbooksConnector as Connector, ctx, post(raw, delivery));
    expect(accepted.events).toEqual([{ id: '9a3c1b7e-2f4d-4e55-8a0b-0c1d2e3f4a5b', payload: { realmId: REALM, entity: 'Customer', id: '58', operation: 'Create' } }]);
    expect(records).toEqual([
      {
        kind: 'contact',
        source: 'quickbooks',
        sourceId: 'customer/58',
        occurredAt: '2019-10-30T15:29:54.000Z',
        identifiers: { emails: ['Birds@Intuit.com'], phones: ['(650) 555-3311', '(650) 555-0199'] },
        traits: {
          firstName: 'Amy',
          lastName: 'Lauterbach',
          displayName: "Amy's Bird Sanctuary",
          company: "Amy's Bird Sanctuary",
          address: '4581 Finch St.',
          city: 'Bayshore',
          postcode: '94326',
        },
      },
    ]);
  });

  it('turns a payment into an inbound payment on the customer', async () => {
    const delivery = { eventNotifications: [{ realmId: REALM, dataChangeEvent: { entities: [{ name: 'Payment', id: '164', operation: 'Create', lastUpdated: '2019-11-05T17:12:40.000Z' }] } }] };
    api().get(`/v3/company/${REALM}/payment/164`).query({ minorversion: '75' }).reply(200, qboPayment);
    const { records } = await deliver(quickbooksConnector as Connector, ctx, post(Buffer.from(JSON.stringify(delivery)), delivery));
    expect(records).toEqual([
      {
        kind: 'interaction',
        source: 'quickbooks',
        sourceId: 'payment/164',
        occurredAt: '2019-11-05T00:00:00.000Z',
        identifiers: { ids: { quickbooks: 'customer/58' } },
        interaction: { channel: 'payment', direction: 'inbound', subject: 'Payment 7781', amount: 275, currency: 'USD', data: { realmId: REALM, operation: 'Create' } },
      },
    ]);
  });

  it('marks a voided invoice voided and a settled one paid', async () => {
    const voided = { Invoice: { ...qboInvoice.Invoice, TotalAmt: 0, Balance: 0 } };
    const paid = { Invoice: { ...qboInvoice.Invoice, Balance: 0 } };
    const mapping = compileMapping(quickbooksConnector.mappings[0]!);
    expect(mapping.apply({ ...voided, hub: { realmId: REALM, operation: 'Void' } }).records[0]?.interaction?.status).toBe('voided');
    expect(mapping.apply({ ...paid, hub: { realmId: REALM, operation: 'Update' } }).records[0]?.interaction?.status).toBe('paid');
  });

  it('queues nothing for deletes, unmapped entities and other companies, and refuses what is not a delivery', async () => {
    const delivery = {
      eventNotifications: [
        {
          realmId: REALM,
          dataChangeEvent: {
            entities: [
              { name: 'Customer', id: '58', operation: 'Delete', lastUpdated: '2019-10-30T15:29:54.000Z' },
              { name: 'Vendor', id: '7', operation: 'Create', lastUpdated: '2019-10-30T15:29:54.000Z' },
              { name: 'Customer', id: '59', operation: 'Merge', lastUpdated: '2019-10-30T15:29:55.000Z', deletedId: '58' },
            ],
          },
        },
        { realmId: '123145', dataChangeEvent: { entities: [{ name: 'Customer', id: '1', operation: 'Create', lastUpdated: '2019-10-30T15:29:54.000Z' }] } },
      ],
    };
    const accepted = await quickbooksConnector.webhook!.accept(ctx, post(Buffer.from(JSON.stringify(delivery)), delivery));
    expect(accepted.events.map((e) => e.id)).toEqual([`${REALM}:Customer:59:Merge:2019-10-30T15:29:55.000Z`]);
    const cloudDelete = [{ specversion: '1.0', id: 'c0ffee00-0000-4000-8000-000000000001', type: 'qbo.customer.deleted.v1', intuitentityid: '58', intuitaccountid: REALM, data: {} }];
    expect((await quickbooksConnector.webhook!.accept(ctx, post(Buffer.from(JSON.stringify(cloudDelete)), cloudDelete))).events).toEqual([]);
    for (const bad of [{ eventNotifications: [{ realmId: REALM }] }, [{ id: 'x' }], 'text', undefined]) {
      expect(() => quickbooksConnector.webhook!.accept(ctx, post(Buffer.from('x'), bad))).toThrow(expect.objectContaining({ code: 'HUB_ERR_VALIDATION' }));
    }
  });
});

const TENANT = 'c2cc9b6e-9458-4c7d-93cc-f02b81b0594f';
const CONTACT_ID = '717f2bfc-c6d4-41fd-b238-3f2f0c0cf777';
const xeroContacts = {
  Id: '5d5ab4f0-6d5b-4b4e-9e6d-9c5f0b3f3a11',
  Status: 'OK',
  ProviderName: 'crm-hub',
  DateTimeUTC: '/Date(1498007740000)/',
  Contacts: [
    {
      ContactID: CONTACT_ID,
      ContactStatus: 'ACTIVE',
      Name: 'Bayside Club',
      FirstName: 'Bob',
      LastName: 'Partridge',
      EmailAddress: 'secretarybob@bsclub.co',
      BankAccountDetails: '',
      Addresses: [
        { AddressType: 'STREET', City: '', Region: '', PostalCode: '', Country: '' },
        { AddressType: 'POBOX', AddressLine1: 'P O Box 3354', City: 'Ridge Heights', Region: 'Madeupville', PostalCode: '9087', Country: '' },
      ],
      Phones: [
        { PhoneType: 'DEFAULT', PhoneNumber: '3774422', PhoneAreaCode: '9', PhoneCountryCode: '64' },
        { PhoneType: 'DDI', PhoneNumber: '', PhoneAreaCode: '', PhoneCountryCode: '' },
        { PhoneType: 'FAX', PhoneNumber: '', PhoneAreaCode: '', PhoneCountryCode: '' },
        { PhoneType: 'MOBILE', PhoneNumber: '555 0199', PhoneAreaCode: '021', PhoneCountryCode: '' },
      ],
      UpdatedDateUTC: '/Date(1498007739902+0000)/',
      ContactGroups: [],
      IsSupplier: false,
      IsCustomer: true,
      DefaultCurrency: 'NZD',
      ContactPersons: [],
      HasAttachments: false,
      HasValidationErrors: false,
    },
  ],
};
const INVOICE_ID = '243216c5-369e-4056-ac67-05388f86dc81';
const xeroInvoices = {
  Id: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  Status: 'OK',
  ProviderName: 'crm-hub',
  DateTimeUTC: '/Date(1498007741000)/',
  Invoices: [
    {
      Type: 'ACCREC',
      InvoiceID: INVOICE_ID,
      InvoiceNumber: 'INV-0001',
      Reference: 'Ref MK815',
      Payments: [],
      CreditNotes: [],
      AmountDue: 396.0,
      AmountPaid: 0.0,
      AmountCredited: 0.0,
      CurrencyRate: 1.0,
      IsDiscounted: false,
      HasAttachments: false,
      HasErrors: false,
      Contact: { ContactID: CONTACT_ID, Name: 'Bayside Club', Addresses: [], Phones: [], ContactGroups: [], ContactPersons: [], HasValidationErrors: false },
      DateString: '2017-06-20T00:00:00',
      Date: '/Date(1497916800000+0000)/',
      DueDateString: '2017-07-06T00:00:00',
      DueDate: '/Date(1499299200000+0000)/',
      Status: 'AUTHORISED',
      LineAmountTypes: 'Exclusive',
      LineItems: [{ Description: 'Annual membership', UnitAmount: 360.0, TaxType: 'OUTPUT2', TaxAmount: 36.0, LineAmount: 360.0, AccountCode: '200', Quantity: 1.0, LineItemID: 'b3f2d1a4-6c5e-4f7a-9b8c-0d1e2f3a4b5c' }],
      SubTotal: 360.0,
      TotalTax: 36.0,
      Total: 396.0,
      UpdatedDateUTC: '/Date(1498007739902+0000)/',
      CurrencyCode: 'NZD',
    },
  ],
};

describe('Xero', () => {
  const ctx = context({ webhookKey: 'xero_webhook_test_secret', accessToken: 'xero-access-token', tenantId: TENANT, baseUrl: 'https://api.xero.com' });
  const api = () => nock('https://api.xero.com', { reqheaders: { authorization: 'Bearer xero-access-token', 'xero-tenant-id': TENANT } });

  it('answers Intent to Receive with an empty 200 and queues nothing', async () => {
    const raw = fixture('xero_intent_to_receive.json');
    expect(await xeroConnector.webhook!.accept(ctx, post(raw, JSON.parse(raw.toString('utf8'))))).toEqual({ events: [], reply: { status: 200 } });
  });

  it('turns the documented contact event into a contact, phones put together from their parts', async () => {
    const raw = fixture('xero_webhook_event.json');
    api().get(`/api.xro/2.0/Contacts/${CONTACT_ID}`).reply(200, xeroContacts);
    const { accepted, records } = await deliver(xeroConnector as Connector, ctx, post(raw, JSON.parse(raw.toString('utf8'))));
    expect(accepted.events.map((e) => e.id)).toEqual([`${CONTACT_ID}:2017-06-21T01:15:39.902:Update`]);
    expect(accepted.reply).toEqual({ status: 200 });
    expect(records).toEqual([
      {
        kind: 'contact',
        source: 'xero',
        sourceId: `contact/${CONTACT_ID}`,
        identifiers: { emails: ['secretarybob@bsclub.co'], phones: ['+64 9 3774422', '021 555 0199'] },
        traits: { firstName: 'Bob', lastName: 'Partridge', displayName: 'Bayside Club', address: 'P O Box 3354', city: 'Ridge Heights', postcode: '9087' },
      },
    ]);
  });

  it('turns an invoice event into an outbound invoice on the contact', async () => {
    const delivery = { events: [{ resourceUrl: `https://api.xero.com/api.xro/2.0/Invoices/${INVOICE_ID}`, resourceId: INVOICE_ID, eventDateUtc: '2017-06-21T01:16:02.113', eventType: 'CREATE', eventCategory: 'INVOICE', tenantId: TENANT, tenantType: 'ORGANISATION' }], lastEventSequence: 2, firstEventSequence: 2, entropy: 'QWERTYUIOPASDFGH' };
    api().get(`/api.xro/2.0/Invoices/${INVOICE_ID}`).reply(200, xeroInvoices);
    const { records } = await deliver(xeroConnector as Connector, ctx, post(Buffer.from(JSON.stringify(delivery)), delivery));
    expect(records).toEqual([
      {
        kind: 'interaction',
        source: 'xero',
        sourceId: `invoice/${INVOICE_ID}`,
        occurredAt: '2017-06-20T00:00:00.000Z',
        identifiers: { ids: { xero: `contact/${CONTACT_ID}` } },
        interaction: { channel: 'invoice', direction: 'outbound', subject: 'Invoice INV-0001', status: 'authorised', amount: 396, currency: 'NZD', data: { tenantId: TENANT, eventType: 'CREATE' } },
      },
    ]);
  });

  it('queues nothing for other organisations and categories; refuses ids that are not Xero ids', async () => {
    const event = { resourceId: CONTACT_ID, eventDateUtc: '2017-06-21T01:15:39.902', eventType: 'UPDATE', eventCategory: 'CONTACT', tenantId: TENANT };
    const delivery = { events: [{ ...event, tenantId: '00000000-0000-4000-8000-000000000000' }, { ...event, eventCategory: 'SUBSCRIPTION' }] };
    expect((await xeroConnector.webhook!.accept(ctx, post(Buffer.from('x'), delivery))).events).toEqual([]);
    expect(() => xeroConnector.webhook!.accept(ctx, post(Buffer.from('x'), { events: [{ ...event, resourceId: '../Organisation' }] }))).toThrow(expect.objectContaining({ code: 'HUB_ERR_VALIDATION' }));
    expect(() => xeroConnector.webhook!.accept(ctx, post(Buffer.from('x'), { entropy: 'x' }))).toThrow(expect.objectContaining({ code: 'HUB_ERR_VALIDATION' }));
  });

  it('writes phones in international form only when Xero knows the country', () => {
    expect(xeroPhone({ PhoneNumber: '7946 0000', PhoneAreaCode: '020', PhoneCountryCode: '+44' })).toBe('+44 020 7946 0000');
    expect(xeroPhone({ PhoneNumber: '555 0100' })).toBe('555 0100');
    expect(xeroPhone({ PhoneNumber: ' ', PhoneCountryCode: '64' })).toBeUndefined();
  });
});

const bitrixRaw = fixture('bitrix24_oncrmcontactadd.txt')
  .toString('utf8')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.startsWith('#'))
  .join('');
const bitrixContact = {
  result: {
    ID: '134806',
    POST: 'Закупщик',
    COMMENTS: null,
    HONORIFIC: null,
    NAME: 'Иван',
    SECOND_NAME: 'Петрович',
    LAST_NAME: 'Сидоров',
    PHOTO: null,
    LEAD_ID: null,
    TYPE_ID: 'CLIENT',
    SOURCE_ID: 'WEB',
    SOURCE_DESCRIPTION: null,
    COMPANY_ID: '12',
    BIRTHDATE: '1985-04-12T03:00:00+03:00',
    EXPORT: 'Y',
    HAS_PHONE: 'Y',
    HAS_EMAIL: 'Y',
    HAS_IMOL: 'N',
    DATE_CREATE: '2024-09-22T18:28:46+03:00',
    DATE_MODIFY: '2024-09-22T18:28:46+03:00',
    ASSIGNED_BY_ID: '1',
    CREATED_BY_ID: '1',
    MODIFY_BY_ID: '1',
    OPENED: 'Y',
    ORIGINATOR_ID: null,
    ORIGIN_ID: null,
    ADDRESS: null,
    ADDRESS_CITY: null,
    ADDRESS_POSTAL_CODE: null,
    UTM_SOURCE: null,
    PHONE: [{ ID: '2882', VALUE_TYPE: 'WORK', VALUE: '+7 (916) 123-45-67', TYPE_ID: 'PHONE' }],
    EMAIL: [
      { ID: '2884', VALUE_TYPE: 'WORK', VALUE: 'i.sidorov@example.ru', TYPE_ID: 'EMAIL' },
      { ID: '2886', VALUE_TYPE: 'HOME', VALUE: 'ivan.sidorov@example.com', TYPE_ID: 'EMAIL' },
    ],
  },
  time: { start: 1727018927.1, finish: 1727018927.15, duration: 0.05, processing: 0.01, date_start: '2024-09-22T18:28:47+03:00', date_finish: '2024-09-22T18:28:47+03:00' },
};

describe('Bitrix24', () => {
  const ctx = context({ applicationToken: '3c6c9248ec54af6bea1159b43ee0ab32', restUrl: 'https://bitrix24-php-sdk-playground.bitrix24.com/rest/1/abcdef0123456789' });
  const form = (raw: string) => Object.fromEntries(new URLSearchParams(raw));

  it('turns the captured ONCRMCONTACTADD into the contact crm.contact.get returns', async () => {
    nock('https://bitrix24-php-sdk-playground.bitrix24.com').get('/rest/1/abcdef0123456789/crm.contact.get.json').query({ id: '134806' }).reply(200, bitrixContact);
    const { accepted, records } = await deliver(bitrix24Connector as Connector, ctx, post(Buffer.from(bitrixRaw), form(bitrixRaw)));
    expect(accepted.events).toEqual([{ id: 'ONCRMCONTACTADD:134806:1727018926', payload: { event: 'ONCRMCONTACTADD', contactId: '134806' } }]);
    expect(records).toEqual([
      {
        kind: 'contact',
        source: 'bitrix24',
        sourceId: 'contact/134806',
        occurredAt: '2024-09-22T15:28:46.000Z',
        identifiers: { emails: ['i.sidorov@example.ru', 'ivan.sidorov@example.com'], phones: ['+7 (916) 123-45-67'] },
        traits: { firstName: 'Иван', lastName: 'Сидоров', middleName: 'Петрович', jobTitle: 'Закупщик', birthDate: '1985-04-12' },
      },
    ]);
  });

  it('takes updates, ignores other events and refuses a contact event without an id', async () => {
    const update = bitrixRaw.replace('ONCRMCONTACTADD', 'ONCRMCONTACTUPDATE');
    expect((await bitrix24Connector.webhook!.accept(ctx, post(Buffer.from(update), form(update)))).events.map((e) => e.id)).toEqual(['ONCRMCONTACTUPDATE:134806:1727018926']);
    const deleted = bitrixRaw.replace('ONCRMCONTACTADD', 'ONCRMCONTACTDELETE');
    expect((await bitrix24Connector.webhook!.accept(ctx, post(Buffer.from(deleted), form(deleted)))).events).toEqual([]);
    const noId = bitrixRaw.replace(/data%5BFIELDS%5D%5BID%5D=\d+&/, '');
    expect(() => bitrix24Connector.webhook!.accept(ctx, post(Buffer.from(noId), form(noId)))).toThrow(expect.objectContaining({ code: 'HUB_ERR_VALIDATION' }));
  });

});
