import type { MappingDocument } from '../../../mappings/mapping.schema.js';

/**
 * A Bitrix24 CRM contact as `crm.contact.get` returns it (`{"result": {...}}`), plus
 * `hub: {event, emails, phones}` (the VALUEs of the EMAIL and PHONE multi-fields).
 */
export const bitrix24Mapping: MappingDocument = {
  name: 'bitrix24',
  version: 1,
  description: 'Bitrix24: CRM contact → contact',
  records: [
    {
      when: 'result.ID',
      kind: 'contact',
      source: { const: 'bitrix24' },
      sourceId: { path: 'result.ID', transforms: ['string', { prefix: 'contact/' }] },
      occurredAt: { path: 'result.DATE_MODIFY', transforms: ['date'] },
      identifiers: {
        emails: ['hub.emails'],
        phones: ['hub.phones'],
      },
      traits: {
        firstName: 'result.NAME',
        lastName: 'result.LAST_NAME',
        middleName: 'result.SECOND_NAME',
        jobTitle: 'result.POST',
        // "1980-02-03T00:00:00+03:00": the day as written, before any shift to UTC moves it.
        birthDate: { path: 'result.BIRTHDATE', transforms: [{ split: 'T', index: 0 }, 'nonEmpty'] },
        address: 'result.ADDRESS',
        city: 'result.ADDRESS_CITY',
        postcode: 'result.ADDRESS_POSTAL_CODE',
      },
    },
  ],
};
