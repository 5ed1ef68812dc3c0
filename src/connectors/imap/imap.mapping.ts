import type { MappingDocument } from '../../mappings/mapping.schema.js';

/**
 * One `email` interaction per customer of a letter (a record's identifiers are one person, so a
 * letter to two customers is two records). The record key is the letter's key plus the customer's
 * address; the display name gives the name traits; signature phones are the sender's phones.
 */
export const imapMapping: MappingDocument = {
  name: 'imap-email',
  version: 1,
  description: 'IMAP letters: an email interaction on the profile of each customer (the sender of an inbound letter, the recipients of an outbound one)',
  records: [
    {
      each: 'customers',
      kind: 'interaction',
      source: { const: 'email' },
      sourceId: 'sourceId',
      occurredAt: '$.date',
      identifiers: { emails: ['email'], phones: ['phones'] },
      traits: {
        fullName: 'name',
        firstName: { path: 'name', transforms: ['firstName'] },
        lastName: { path: 'name', transforms: ['lastName'] },
      },
      interaction: {
        channel: { const: 'email' },
        direction: '$.direction',
        subject: '$.subject',
        body: '$.excerpt',
        data: 'data',
      },
    },
  ],
};
