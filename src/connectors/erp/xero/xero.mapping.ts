import type { MappingDocument } from '../../../mappings/mapping.schema.js';

/**
 * Xero contacts and invoices as the Accounting API returns them, one per payload (`{"Contact": {...}}`
 * or `{"Invoice": {...}}`), plus `hub: {tenantId, eventType, phones}` (phones assembled from Xero's
 * country/area/number parts). An invoice names its contact's external id `xero:contact/<ContactID>`.
 */
export const xeroMapping: MappingDocument = {
  name: 'xero',
  version: 1,
  description: 'Xero: Contact → contact; Invoice → invoice (sales invoices outbound, bills inbound)',
  records: [
    {
      when: 'Contact.ContactID',
      kind: 'contact',
      source: { const: 'xero' },
      sourceId: { path: 'Contact.ContactID', transforms: ['lowercase', { prefix: 'contact/' }] },
      identifiers: {
        emails: ['Contact.EmailAddress'],
        phones: ['hub.phones'],
      },
      traits: {
        firstName: 'Contact.FirstName',
        lastName: 'Contact.LastName',
        // Name is the contact as Xero lists it: a person or an organisation, Xero does not say which.
        displayName: 'Contact.Name',
        address: { first: ['Contact.Addresses.0.AddressLine1', 'Contact.Addresses.1.AddressLine1'] },
        city: { first: ['Contact.Addresses.0.City', 'Contact.Addresses.1.City'] },
        postcode: { first: ['Contact.Addresses.0.PostalCode', 'Contact.Addresses.1.PostalCode'] },
      },
    },
    {
      when: 'Invoice.InvoiceID',
      kind: 'interaction',
      source: { const: 'xero' },
      sourceId: { path: 'Invoice.InvoiceID', transforms: ['lowercase', { prefix: 'invoice/' }] },
      // DateString, not Date: Date is Microsoft JSON ("/Date(1518685950940+0000)/").
      occurredAt: { path: 'Invoice.DateString', transforms: ['date'] },
      identifiers: {
        ids: { xero: { path: 'Invoice.Contact.ContactID', transforms: ['lowercase', { prefix: 'contact/' }] } },
      },
      interaction: {
        channel: { const: 'invoice' },
        // ACCREC is a sales invoice we send; ACCPAY a bill we receive.
        direction: { path: 'Invoice.Type', transforms: [{ lookup: { ACCREC: 'outbound', ACCPAY: 'inbound' } }] },
        subject: { template: 'Invoice {Invoice.InvoiceNumber}' },
        status: { path: 'Invoice.Status', transforms: ['lowercase'] },
        amount: { path: 'Invoice.Total', transforms: ['number'] },
        currency: { path: 'Invoice.CurrencyCode', transforms: ['trim', 'uppercase'] },
        data: 'hub',
      },
    },
  ],
};
