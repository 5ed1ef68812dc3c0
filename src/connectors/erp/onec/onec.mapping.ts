import type { MappingDocument } from '../../../mappings/mapping.schema.js';

/**
 * The default 1C mapping. The poller sends one payload per object:
 * `{resource, counterparty: {...}, emails, phones}` (a catalog item; emails and phones taken from its
 * КонтактнаяИнформация table when it has one) becomes a contact whose external id is `1c:<Ref_Key>`;
 * `{resource, document: {...}, counterpartyKey, currency, utcOffset}` (a sales document) becomes an
 * order on that counterparty's timeline.
 */
export const onecMapping: MappingDocument = {
  name: 'onec-counterparties-sales',
  version: 1,
  description: '1C Catalog_Контрагенты → contact; sales documents (Document_РеализацияТоваровУслуг) → order interaction',
  records: [
    {
      when: 'counterparty',
      kind: 'contact',
      source: { const: '1c' },
      sourceId: 'counterparty.Ref_Key',
      identifiers: { emails: ['emails'], phones: ['phones'] },
      traits: {
        fullName: { path: 'counterparty.Description', transforms: ['trim'] },
        company: { path: 'counterparty.Description', transforms: ['trim'] },
        legalName: { path: 'counterparty.НаименованиеПолное', transforms: ['trim'] },
        inn: { path: 'counterparty.ИНН', transforms: ['trim'] },
        kpp: { path: 'counterparty.КПП', transforms: ['trim'] },
        legalForm: 'counterparty.ЮрФизЛицо',
        code: { path: 'counterparty.Code', transforms: ['trim'] },
        comment: { path: 'counterparty.Комментарий', transforms: ['trim'] },
        markedForDeletion: 'counterparty.DeletionMark',
      },
    },
    {
      when: 'document',
      kind: 'interaction',
      source: { const: '1c' },
      sourceId: 'document.Ref_Key',
      // 1C dates carry no zone: they are the base's local time, so the configured offset is added.
      occurredAt: { template: '{document.Date}{$.utcOffset}', transforms: ['date'] },
      identifiers: { ids: { '1c': 'counterpartyKey' } },
      interaction: {
        channel: { const: 'order' },
        direction: { const: 'outbound' },
        subject: { path: 'document.Number', transforms: ['trim'] },
        status: {
          first: [
            { path: 'document.DeletionMark', transforms: [{ lookup: { true: 'deleted' } }] },
            { path: 'document.Posted', transforms: [{ lookup: { true: 'posted', false: 'draft' } }] },
          ],
        },
        amount: { path: 'document.СуммаДокумента', transforms: ['number'] },
        currency: 'currency',
        data: 'document',
      },
    },
  ],
};
