import { Type, type Static } from 'typebox';

/** Settings of one mailbox account read by an `imap` connector. */
export const ImapSettings = Type.Object(
  {
    host: Type.String({ minLength: 1, description: 'the IMAP server, e.g. imap.gmail.com, imap.yandex.ru, outlook.office365.com' }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'default 993 with tls "implicit", 143 otherwise' })),
    tls: Type.Union([Type.Literal('implicit'), Type.Literal('starttls'), Type.Literal('none')], {
      default: 'implicit',
      description: 'implicit: TLS from the first byte (port 993); starttls: plain, then STARTTLS, which must succeed (port 143); none: no encryption, only for a server on the same host',
    }),
    tlsVerify: Type.Boolean({ default: true, description: "check the server's certificate; turn off only for a server with a self-signed certificate you trust" }),
    user: Type.String({ minLength: 1, description: 'login name, usually the address' }),
    password: Type.String({ minLength: 1, description: 'password or app password; use ${IMAP_PASSWORD}' }),
    mailboxes: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      uniqueItems: true,
      default: ['INBOX', '\\Sent'],
      description: 'mailboxes to read: a path ("INBOX", "Отправленные") or a special-use name ("\\Sent", "\\Archive") found through LIST; IDLE watches the first',
    }),
    companyAddresses: Type.Array(Type.String({ minLength: 3 }), {
      default: [],
      description: "the company's own addresses (never a customer); the login counts too when it is an address",
    }),
    companyDomains: Type.Array(Type.String({ pattern: '^[^@\\s]+\\.[^@\\s]+$' }), {
      default: [],
      description: "the company's own domains; their subdomains count too",
    }),
    ignoreLocalParts: Type.Array(Type.String({ minLength: 1 }), {
      default: ['mailer-daemon', 'postmaster', 'noreply', 'no-reply', 'do-not-reply', 'donotreply'],
      description: 'senders and recipients with these local parts are robots, never customers',
    }),
    since: Type.Optional(Type.String({ format: 'date', description: 'first import (and a re-scan after a UIDVALIDITY change): only letters the server received on or after this day' })),
    idle: Type.Boolean({ default: true, description: 'wait for new mail with IDLE between polls (the poll keeps its connection for about pollEveryMs)' }),
    watchdogSec: Type.Integer({ minimum: 2, maximum: 600, default: 30, description: 'while in IDLE, ask STATUS of every mailbox this often: IDLE can stop reporting without a word' }),
    batchSize: Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'letters downloaded per page; a page is queued and checkpointed before the next' }),
    maxMessageBytes: Type.Integer({ minimum: 65_536, default: 25 * 1024 * 1024, description: 'a larger letter is read up to this size only (headers and text survive; late attachments are cut)' }),
    excerptChars: Type.Integer({ minimum: 100, maximum: 100_000, default: 4000, description: 'length of the plain-text excerpt kept as the interaction body' }),
    signaturePhones: Type.Boolean({ default: true, description: "phone numbers in the signature of a customer's letter become phone identifiers of the sender" }),
    companyPhones: Type.Array(Type.String({ minLength: 3 }), { default: [], description: "the company's own numbers, never taken from a signature (any format)" }),
    defaultCountry: Type.String({ pattern: '^[A-Z]{2}$', default: 'RU', description: 'ISO 3166 country for signature numbers written without "+"' }),
    timeoutMs: Type.Integer({ minimum: 1000, maximum: 300_000, default: 30_000, description: 'to connect, and for a watchdog STATUS to answer' }),
  },
  { additionalProperties: false },
);

export type ImapSettings = Static<typeof ImapSettings>;
