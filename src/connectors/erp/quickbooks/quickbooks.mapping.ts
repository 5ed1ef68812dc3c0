import type { MappingDocument } from '../../../mappings/mapping.schema.js';

/**
 * QuickBooks Online entities as the Accounting API returns them (`{"Customer": {...}, "time": ...}`),
 * plus `hub: {realmId, operation}` from the webhook. A Customer becomes a contact whose external id
 * `quickbooks:customer/<Id>` is what its invoices and payments name in `identifiers.ids`, so they
 * land on the same profile whichever arrives first.
 */
export const quickbooksMapping: MappingDocument = {
  name: 'quickbooks',
  version: 1,
  description: 'QuickBooks Online: Customer → contact; Invoice → invoice; Payment → payment',
  records: [
    {
      when: 'Customer.Id',
      kind: 'contact',
      source: { const: 'quickbooks' },
      sourceId: { path: 'Customer.Id', transforms: [{ prefix: 'customer/' }] },
      occurredAt: { path: 'Customer.MetaData.LastUpdatedTime', transforms: ['date'] },
      identifiers: {
        // QuickBooks keeps several addresses in one field, comma-separated; the first is the primary one.
        emails: [{ path: 'Customer.PrimaryEmailAddr.Address', transforms: [{ split: ',', index: 0 }, 'trim'] }],
        phones: ['Customer.PrimaryPhone.FreeFormNumber', 'Customer.Mobile.FreeFormNumber'],
      },
      traits: {
        firstName: 'Customer.GivenName',
        lastName: 'Customer.FamilyName',
        // DisplayName is a person's or a business's name, whichever the customer is; QuickBooks does not say which.
        displayName: 'Customer.DisplayName',
        company: 'Customer.CompanyName',
        address: 'Customer.BillAddr.Line1',
        city: 'Customer.BillAddr.City',
        postcode: 'Customer.BillAddr.PostalCode',
      },
    },
    {
      when: 'Invoice.Id',
      kind: 'interaction',
      source: { const: 'quickbooks' },
      sourceId: { path: 'Invoice.Id', transforms: [{ prefix: 'invoice/' }] },
      occurredAt: { path: 'Invoice.TxnDate', transforms: ['date'] },
      identifiers: {
        emails: ['Invoice.BillEmail.Address'],
        ids: { quickbooks: { path: 'Invoice.CustomerRef.value', transforms: [{ prefix: 'customer/' }] } },
      },
      interaction: {
        channel: { const: 'invoice' },
        direction: { const: 'outbound' },
        subject: { template: 'Invoice {Invoice.DocNumber}' },
        // QuickBooks has no invoice status field: a void is known from the event, paid from a zero balance.
        status: {
          first: [
            { path: 'hub.operation', transforms: [{ lookup: { Void: 'voided' } }] },
            { path: 'Invoice.Balance', transforms: ['number', { lookup: { '0': 'paid' }, default: 'open' }] },
          ],
        },
        amount: { path: 'Invoice.TotalAmt', transforms: ['number'] },
        currency: { path: 'Invoice.CurrencyRef.value', transforms: ['trim', 'uppercase'] },
        data: 'hub',
      },
    },
    {
      when: 'Payment.Id',
      kind: 'interaction',
      source: { const: 'quickbooks' },
      sourceId: { path: 'Payment.Id', transforms: [{ prefix: 'payment/' }] },
      occurredAt: { path: 'Payment.TxnDate', transforms: ['date'] },
      identifiers: {
        ids: { quickbooks: { path: 'Payment.CustomerRef.value', transforms: [{ prefix: 'customer/' }] } },
      },
      interaction: {
        channel: { const: 'payment' },
        direction: { const: 'inbound' },
        subject: { template: 'Payment {Payment.PaymentRefNum}' },
        amount: { path: 'Payment.TotalAmt', transforms: ['number'] },
        currency: { path: 'Payment.CurrencyRef.value', transforms: ['trim', 'uppercase'] },
        data: 'hub',
      },
    },
  ],
};
