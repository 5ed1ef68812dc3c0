import type { MappingDocument } from '../../../mappings/mapping.schema.js';

// Odoo answers false, not null, for an empty field (a char, a date, a many2one), so text values
// go through falseAsEmpty; a many2one is [id, display name], hence `partner_id.0` and `currency_id.1`.
const text = (path: string) => ({ path, transforms: ['falseAsEmpty' as const, 'trim' as const] });

/**
 * The default Odoo mapping. The poller sends one payload per record: `{model: 'res.partner',
 * partner: {...}}` becomes a contact (`odoo:<id>` is its external id); `{model: 'account.move',
 * move: {...}}` becomes an invoice on the timeline of its partner's profile.
 */
export const odooMapping: MappingDocument = {
  name: 'odoo-partners-invoices',
  version: 1,
  description: 'Odoo res.partner → contact; account.move (customer invoices and refunds) → invoice interaction',
  records: [
    {
      when: 'partner',
      kind: 'contact',
      source: { const: 'odoo' },
      sourceId: 'partner.id',
      occurredAt: { path: 'partner.write_date', transforms: ['date'] },
      identifiers: { emails: [text('partner.email')], phones: [text('partner.phone'), text('partner.mobile')] },
      traits: {
        fullName: text('partner.name'),
        company: text('partner.commercial_company_name'),
        isCompany: 'partner.is_company',
        vat: text('partner.vat'),
        reference: text('partner.ref'),
        address: text('partner.street'),
        city: text('partner.city'),
        postcode: text('partner.zip'),
        country: text('partner.country_id.1'),
        language: text('partner.lang'),
        archived: { path: 'partner.active', transforms: [{ lookup: { false: true, true: false } }] },
      },
    },
    {
      when: 'move',
      kind: 'interaction',
      source: { const: 'odoo' },
      // Partners take the plain ids; a prefix keeps invoices from colliding with them.
      sourceId: { template: 'account.move-{move.id}' },
      occurredAt: { first: [{ path: 'move.invoice_date', transforms: ['date'] }, { path: 'move.write_date', transforms: ['date'] }] },
      identifiers: { ids: { odoo: { path: 'move.partner_id.0', transforms: ['falseAsEmpty'] } } },
      interaction: {
        channel: { const: 'invoice' },
        direction: { path: 'move.move_type', transforms: [{ lookup: { out_invoice: 'outbound', out_refund: 'outbound', in_invoice: 'inbound', in_refund: 'inbound' } }] },
        subject: text('move.name'),
        status: text('move.state'),
        amount: { path: 'move.amount_total', transforms: ['number'] },
        currency: { path: 'move.currency_id.1', transforms: ['falseAsEmpty', 'uppercase'] },
        data: 'move',
      },
    },
  ],
};
