import { createHash } from 'node:crypto';
import PostalMime, { type Address, type Email, type Mailbox } from 'postal-mime';
import { normalizeEmail, normalizePhone } from '../../core/identity/normalize.js';
import type { PollFailure } from '../connector.js';
import { excerpt, plainText, signatureBlock, signaturePhones, withoutQuotes } from './imap.text.js';

/** A person on a letter: a normalized address and the display name written with it. */
export type Party = { email: string; name?: string };

/** One customer of a letter, with what becomes their interaction record. */
export type EmailCustomer = Party & {
  /** `<letter key>:<address>`: the same letter (same Message-ID) read twice, in INBOX and in Sent, updates the same record. */
  sourceId: string;
  phones: string[];
  data: Record<string, unknown>;
};

/** What the poll hands to the mapping for one letter: shared fields, and one entry per customer. */
export type EmailPayload = {
  kind: 'email';
  /** account/mailbox/UIDVALIDITY/UID: where it was read; the idempotency key of the fetch. */
  imapKey: string;
  direction: 'inbound' | 'outbound';
  subject?: string;
  excerpt: string;
  date?: string;
  customers: EmailCustomer[];
};

/** Decides who is the company: its addresses, its domains and their subdomains, and robots that are nobody. */
export type Parties = {
  isCompany(email: string): boolean;
  isRobot(email: string): boolean;
};

export function parties(settings: { user: string; companyAddresses: readonly string[]; companyDomains: readonly string[]; ignoreLocalParts: readonly string[] }): Parties {
  const addresses = new Set<string>();
  for (const raw of [...settings.companyAddresses, settings.user]) {
    const email = normalizeEmail(raw);
    if (email) addresses.add(email);
  }
  const domains = settings.companyDomains.map((d) => normalizeEmail(`x@${d}`)?.split('@')[1]).filter((d): d is string => d !== undefined);
  const robots = new Set(settings.ignoreLocalParts.map((l) => l.toLowerCase()));
  return {
    isCompany(email) {
      if (addresses.has(email)) return true;
      const domain = email.slice(email.lastIndexOf('@') + 1);
      return domains.some((d) => domain === d || domain.endsWith(`.${d}`));
    },
    isRobot(email) {
      return robots.has(email.slice(0, email.lastIndexOf('@')));
    },
  };
}

/** What a poll needs to turn a letter into a payload. */
export type MessageContext = {
  account: string;
  mailbox: string;
  uidValidity: string;
  parties: Parties;
  excerptChars: number;
  signaturePhones: boolean;
  defaultCountry: string;
  companyPhones: ReadonlySet<string>;
};

/** A letter as downloaded: its source (maybe cut at maxMessageBytes) and what the server knows of it. */
export type RawMessage = { uid: number; source: Buffer; internalDate?: Date | undefined; size?: number | undefined; truncated: boolean };

const MAX_LISTED = 50;

function mailboxes(address: Address | Address[] | undefined): Mailbox[] {
  if (!address) return [];
  return (Array.isArray(address) ? address : [address]).flatMap((a) => (a.group ? a.group : [a]));
}

function party(mailbox: Mailbox): Party | null {
  const email = normalizeEmail(mailbox.address);
  // RFC 5321 §4.5.3.1.3: a path is at most 256 octets; anything longer is junk, not a person.
  if (!email || email.length > 254) return null;
  const name = mailbox.name.replace(/\s+/g, ' ').trim().replace(/^["']+|["']+$/g, '');
  // A "name" that is an address (or empty) says nothing about the person.
  return name && !name.includes('@') ? { email, name } : { email };
}

function addressList(address: Address | Address[] | undefined): Party[] {
  return mailboxes(address)
    .map(party)
    .filter((p): p is Party => p !== null);
}

/** `<id>` tokens of a Message-ID, In-Reply-To or References header (ids with no brackets are wrapped). */
export function messageIds(value: string | undefined): string[] {
  if (!value) return [];
  const bracketed = value.match(/<[^<>\s]+>/g);
  if (bracketed) return bracketed;
  return value
    .split(/\s+/)
    .filter((t) => /^[^<>\s]+@[^<>\s]+$/.test(t))
    .map((t) => `<${t}>`);
}

function hash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

function validDate(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/** Key of the letter itself. With a Message-ID: account + Message-ID + sender, so a copy in Sent and in INBOX is one letter, and a stranger reusing an id does not overwrite ours. Without one: what the letter says, which stays the same across a UIDVALIDITY reset (a UID key would not). */
function letterKey(account: string, email: Email, messageId: string | undefined, from: Party, text: string): string {
  if (messageId) return hash(account, messageId, from.email);
  const header = (name: string) => email.headers.find((h) => h.key === name)?.value ?? '';
  return `nomid-${hash(account, header('date'), from.email, header('to'), header('cc'), email.subject ?? '', text)}`;
}

/**
 * Turns one downloaded letter into a payload, or into a failure that says why it cannot be one
 * (unparsable, no sender address). Who the customers are: whoever is not the company — the sender
 * of an inbound letter; the To, Cc and Bcc of an outbound one (Bcc is in the Sent copy only).
 */
export async function readMessage(message: RawMessage, ctx: MessageContext): Promise<{ payload: EmailPayload } | { failure: PollFailure }> {
  const imapKey = `${ctx.account}/${ctx.mailbox}/${ctx.uidValidity}/${message.uid}`;
  const fail = (error: string): { failure: PollFailure } => ({
    failure: {
      id: imapKey,
      error: `letter ${message.uid} in ${ctx.mailbox} (UIDVALIDITY ${ctx.uidValidity}) of ${ctx.account}: ${error}`,
      payload: { imapKey, mailbox: ctx.mailbox, uidValidity: ctx.uidValidity, uid: message.uid, size: message.size ?? message.source.length, head: message.source.subarray(0, 4096).toString('latin1') },
    },
  });
  let email: Email;
  try {
    email = await PostalMime.parse(message.source);
  } catch (err) {
    return fail(`cannot be parsed as MIME: ${(err as Error).message}`);
  }
  const fromList = addressList(email.from);
  const from = fromList[0];
  if (!from) {
    const raw = email.headers.find((h) => h.key === 'from')?.value;
    return fail(raw === undefined ? 'it has no From header, so nobody can be said to have written it' : `its From header has no address: "${raw.slice(0, 200)}"`);
  }
  const to = addressList(email.to);
  const cc = addressList(email.cc);
  const bcc = addressList(email.bcc);
  const outbound = ctx.parties.isCompany(from.email);
  const roles: [Party, string][] = outbound
    ? [...to.map((p) => [p, 'to'] as [Party, string]), ...cc.map((p) => [p, 'cc'] as [Party, string]), ...bcc.map((p) => [p, 'bcc'] as [Party, string])]
    : [[from, 'from']];
  const seen = new Set<string>();
  const customers = roles.filter(([p]) => {
    if (seen.has(p.email) || ctx.parties.isCompany(p.email) || ctx.parties.isRobot(p.email)) return false;
    seen.add(p.email);
    return true;
  });

  const text = plainText(email.text, email.html);
  const fresh = withoutQuotes(text);
  const body = excerpt(fresh.trim() === '' ? text : fresh, ctx.excerptChars);
  const messageId = messageIds(email.messageId)[0];
  const inReplyTo = messageIds(email.inReplyTo)[0];
  const references = messageIds(email.references).slice(-20);
  const key = letterKey(ctx.account, email, messageId, from, text);
  const date = validDate(email.date) ?? (message.internalDate ? message.internalDate.toISOString() : undefined);
  const attachments = email.attachments
    // Inline images referenced from the HTML are logos and signatures, not documents.
    .filter((a) => !a.related && (a.filename !== null || a.disposition === 'attachment'))
    .map((a) => ({ name: a.filename ?? `(unnamed ${a.mimeType})`, type: a.mimeType, size: typeof a.content === 'string' ? Buffer.byteLength(a.content) : a.content.byteLength }));
  const phones = !outbound && ctx.signaturePhones && customers.length > 0 ? signaturePhones(signatureBlock(fresh), ctx.defaultCountry, ctx.companyPhones).slice(0, 5) : [];

  const shared = {
    account: ctx.account,
    mailbox: ctx.mailbox,
    uidValidity: ctx.uidValidity,
    uid: message.uid,
    imapKey,
    ...(messageId ? { messageId } : {}),
    ...(inReplyTo ? { inReplyTo } : {}),
    ...(references.length > 0 ? { references } : {}),
    thread: references[0] ?? inReplyTo ?? messageId ?? key,
    from,
    to: to.slice(0, MAX_LISTED),
    ...(cc.length > 0 ? { cc: cc.slice(0, MAX_LISTED) } : {}),
    attachments,
    ...(message.truncated ? { truncated: true, size: message.size } : {}),
  };
  const subject = email.subject?.replace(/\s+/g, ' ').trim().slice(0, 1000);
  return {
    payload: {
      kind: 'email',
      imapKey,
      direction: outbound ? 'outbound' : 'inbound',
      ...(subject ? { subject } : {}),
      excerpt: body,
      ...(date ? { date } : {}),
      customers: customers.map(([p, role]) => ({
        ...p,
        sourceId: `${key}:${p.email}`,
        phones: role === 'from' ? phones : [],
        data: { ...shared, role, ...(role === 'from' && phones.length > 0 ? { phoneOrigin: 'signature', signaturePhones: phones } : {}) },
      })),
    },
  };
}

/** The company's own numbers in E.164, to keep them out of customers' signatures. */
export function companyPhoneSet(raw: readonly string[], defaultCountry: string): ReadonlySet<string> {
  return new Set(raw.map((p) => normalizePhone(p, defaultCountry)).filter((p): p is string => p !== null));
}
