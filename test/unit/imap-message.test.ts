import { describe, expect, it } from 'vitest';
import { compileMapping } from '../../src/mappings/compile.js';
import { imapMapping } from '../../src/connectors/imap/imap.mapping.js';
import { companyPhoneSet, parties, readMessage, type EmailPayload, type MessageContext } from '../../src/connectors/imap/imap.message.js';
import { excerpt, signatureBlock, withoutQuotes } from '../../src/connectors/imap/imap.text.js';
import type { PollFailure } from '../../src/connectors/connector.js';
import { encode8bit, letters, word } from '../support/dovecot.js';

const context = (over: Partial<MessageContext> = {}): MessageContext => ({
  account: 'alice@acme.example',
  mailbox: 'INBOX',
  uidValidity: '1700000000',
  parties: parties({ user: 'alice', companyAddresses: ['alice@acme.example'], companyDomains: ['acme.example'], ignoreLocalParts: ['mailer-daemon', 'noreply'] }),
  excerptChars: 4000,
  signaturePhones: true,
  defaultCountry: 'RU',
  companyPhones: companyPhoneSet(['+7 495 111-22-33'], 'RU'),
  ...over,
});

async function payloadOf(source: Buffer, ctx = context(), uid = 1): Promise<EmailPayload> {
  const read = await readMessage({ uid, source, truncated: false, internalDate: new Date('2026-01-20T00:00:00Z') }, ctx);
  if (!('payload' in read)) throw new Error(`expected a payload, got ${read.failure.error}`);
  return read.payload;
}

async function failureOf(source: Buffer): Promise<PollFailure> {
  const read = await readMessage({ uid: 9, source, truncated: false }, context());
  if (!('failure' in read)) throw new Error('expected a failure');
  return read.failure;
}

const mapping = compileMapping(imapMapping);

describe('a letter read from IMAP', () => {
  it('multipart with a Cyrillic (RFC 2047) name and subject: one inbound email interaction on the sender, the attachment named and sized, the signature phone marked', async () => {
    const payload = await payloadOf(letters.multipart('u1'));
    const { records, errors } = mapping.apply(payload);
    expect(errors).toEqual([]);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      source: 'email',
      kind: 'interaction',
      occurredAt: '2026-01-12T07:00:00.000Z',
      identifiers: { emails: ['ivan.petrov@customer.example'], phones: ['+79161234567'] },
      traits: { fullName: 'Иван Петров', firstName: 'Иван', lastName: 'Петров' },
      interaction: {
        channel: 'email',
        direction: 'inbound',
        subject: 'Запрос счёта на поставку',
        body: expect.stringContaining('Пришлите, пожалуйста, счёт на 20 коробок.'),
        data: expect.objectContaining({
          messageId: '<m1-u1@customer.example>',
          mailbox: 'INBOX',
          uid: 1,
          imapKey: 'alice@acme.example/INBOX/1700000000/1',
          attachments: [{ name: 'реквизиты.pdf', type: 'application/pdf', size: 1500 }],
          phoneOrigin: 'signature',
          signaturePhones: ['+79161234567'],
        }),
      },
    });
    expect(records[0]!.sourceId).toMatch(/^[0-9a-f]{32}:ivan\.petrov@customer\.example$/);
  });

  it('HTML only: the body is its text (entities decoded, no tags), the quoted letter of ours left out, her number taken and ours not', async () => {
    const payload = await payloadOf(letters.htmlOnly('u2'));
    expect(payload.excerpt).toBe('Hello,\n\nWe would like 5 pallets & a discount «as agreed».\n\nMaria Garcia\nBuyer, Shop Ltd\nMobile: +34 612 345 678');
    expect(payload.customers).toEqual([expect.objectContaining({ email: 'maria.garcia@shop.example', name: 'Maria Garcia', phones: ['+34612345678'] })]);
  });

  it('a windows-1251 body under a KOI8-R subject and name decodes to the same Russian text', async () => {
    const payload = await payloadOf(letters.windows1251('u3'));
    expect(payload.subject).toBe('Счёт оплачен');
    expect(payload.excerpt).toBe('Здравствуйте!\nСчёт № 15 оплачен сегодня.\nОлег');
    expect(payload.customers[0]).toMatchObject({ email: 'oleg@zavod.example', name: 'Олег Сидоров' });
  });

  it('our reply is outbound, on the customer only (not on our colleague in Cc), threaded, and our own signature number is nobody’s', async () => {
    const payload = await payloadOf(letters.ourReply('u4'), context({ mailbox: 'Sent' }));
    expect(payload.direction).toBe('outbound');
    expect(payload.customers).toHaveLength(1);
    expect(payload.customers[0]).toMatchObject({
      email: 'ivan.petrov@customer.example',
      phones: [],
      data: expect.objectContaining({ role: 'to', inReplyTo: '<m1-u4@customer.example>', references: ['<m1-u4@customer.example>'], thread: '<m1-u4@customer.example>' }),
    });
  });

  it('a customer’s reply keeps only the new text and threads under the first letter', async () => {
    const payload = await payloadOf(letters.customerReply('u5'));
    expect(payload.excerpt).toBe('Спасибо, оплатим завтра.');
    expect(payload.customers[0]!.phones).toEqual([]);
    expect(payload.customers[0]!.data).toMatchObject({ inReplyTo: '<r1-u5@acme.example>', thread: '<m1-u5@customer.example>' });
  });

  it('an outbound letter to two customers is one record each; the same letter in INBOX and in Sent has the same keys', async () => {
    const inSent = await payloadOf(letters.toTwo('u6'), context({ mailbox: 'Sent', uidValidity: '5' }), 3);
    const inInbox = await payloadOf(letters.toTwo('u6'), context({ mailbox: 'INBOX' }), 40);
    expect(inSent.customers.map((c) => c.email)).toEqual(['sergey@client.example', 'olga@client.example']);
    expect(inSent.customers.map((c) => c.sourceId)).toEqual(inInbox.customers.map((c) => c.sourceId));
    expect(new Set(mapping.apply(inSent).records.map((r) => r.sourceId)).size).toBe(2);
  });

  it('without a Message-ID the key comes from what the letter says, so a UIDVALIDITY reset or a second copy does not double it', async () => {
    const source = Buffer.from(letters.plain('u7', 1).toString('utf8').replace(/^Message-ID:.*\r\n/m, ''));
    const first = await payloadOf(source, context({ uidValidity: '1' }), 1);
    const again = await payloadOf(source, context({ uidValidity: '2', mailbox: 'Archive' }), 77);
    expect(first.customers[0]!.sourceId).toMatch(/^nomid-[0-9a-f]{32}:customer1@example\.org$/);
    expect(again.customers[0]!.sourceId).toBe(first.customers[0]!.sourceId);
  });

  it('a stranger reusing one of our Message-IDs does not take over our letter’s record', async () => {
    const ours = await payloadOf(letters.plain('u8', 2));
    const forged = await payloadOf(Buffer.from(letters.plain('u8', 2).toString('utf8').replace('customer2@example.org', 'mallory@evil.example')));
    expect(forged.customers[0]!.sourceId).not.toBe(ours.customers[0]!.sourceId);
  });

  it('letters between colleagues and from robots have no customer, and make no record', async () => {
    const internal = await payloadOf(Buffer.from(letters.toTwo('u9').toString('utf8').replace(/sergey@client\.example|olga@client\.example/g, 'carol@sub.acme.example')));
    expect(internal.customers).toEqual([]);
    expect(mapping.apply(internal)).toEqual({ records: [], errors: [] });
    const bounce = await payloadOf(letters.plain('u9', 3, 'MAILER-DAEMON@mx.example.net'));
    expect(bounce.customers).toEqual([]);
  });

  it('a letter with no From, or a From without an address, is a failure that says so, keyed by where it was read', async () => {
    const none = await failureOf(letters.malformed('u10'));
    expect(none).toMatchObject({ id: 'alice@acme.example/INBOX/1700000000/9', error: expect.stringContaining('it has no From header') });
    expect(none.payload).toMatchObject({ mailbox: 'INBOX', uid: 9, head: expect.stringContaining('Subject: =?utf-8?B?!!!broken?=') });
    const junk = await failureOf(Buffer.from('From: <<<nobody>>>\r\nSubject: x\r\n\r\nhi\r\n'));
    expect(junk.error).toContain('its From header has no address: "<<<nobody>>>"');
  });

  it('an unknown date falls back to the server’s internal date; a group address is unwrapped', async () => {
    const source = Buffer.from(`From: Team: ${word('Пётр')} <petr@client.example>;\r\nTo: alice@acme.example\r\nDate: someday\r\nSubject: x\r\n\r\nhi\r\n`);
    const payload = await payloadOf(source);
    expect(payload.date).toBe('2026-01-20T00:00:00.000Z');
    expect(payload.customers[0]).toMatchObject({ email: 'petr@client.example', name: 'Пётр' });
  });
});

describe('plain-text helpers', () => {
  it('cuts a reply at the quoted original in the usual client forms', () => {
    expect(withoutQuotes('Да, подходит.\n\n12.01.2026, 11:00, Alice Smith <alice@acme.example> пишет:\n> Счёт во вложении.')).toBe('Да, подходит.\n\n');
    expect(withoutQuotes('OK\n\n-----Original Message-----\nFrom: x')).toBe('OK\n\n');
    expect(withoutQuotes('OK\n\nFrom: Alice\nSent: Monday\nTo: Ivan')).toBe('OK\n\n');
    expect(withoutQuotes('Top\n> quoted\nBottom')).toBe('Top\nBottom');
  });

  it('finds the signature after "-- ", else in the last lines', () => {
    expect(signatureBlock('Hi\n-- \nIvan\n+7 916 123-45-67')).toBe('Ivan\n+7 916 123-45-67');
    expect(signatureBlock(Array.from({ length: 15 }, (_, i) => `line ${i}`).join('\n')).split('\n')).toHaveLength(10);
  });

  it('keeps an excerpt short and cuts at a word', () => {
    expect(excerpt('one two three four five six seven eight nine ten '.repeat(10), 30)).toMatch(/^one two three four five six…$/);
    expect(excerpt('a\n\n\n\n\nb', 100)).toBe('a\n\nb');
  });

  it('encodes Cyrillic in the legacy charsets the tests send', () => {
    expect(new TextDecoder('koi8-r').decode(encode8bit('Счёт', 'koi8-r'))).toBe('Счёт');
    expect(encode8bit('Я', 'windows-1251')).toEqual(Buffer.from([0xdf]));
  });
});
