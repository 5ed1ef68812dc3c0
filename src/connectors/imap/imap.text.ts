import { compile } from 'html-to-text';
import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js';
import { normalizePhone } from '../../core/identity/normalize.js';

const fromHtml = compile({
  wordwrap: false,
  selectors: [
    { selector: 'img', format: 'skip' },
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'h1', options: { uppercase: false } },
    { selector: 'h2', options: { uppercase: false } },
    { selector: 'h3', options: { uppercase: false } },
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
  ],
  limits: { maxInputLength: 2_000_000 },
});

/** The plain text of a letter: its text/plain part, else its HTML converted (quotes become "> " lines). */
export function plainText(text: string | undefined, html: string | undefined): string {
  const raw = text && text.trim() !== '' ? text : html ? fromHtml(html) : '';
  return raw.replace(/\r\n?/g, '\n').replace(/\u00a0/g, ' ');
}

// Where a reply's quoted original starts, as mail clients write it: Gmail/Apple "On … wrote:",
// Outlook "-----Original Message-----" and "From: … Sent: …", Thunderbird and Russian clients
// "… пишет:" / "… написал(а):", Outlook in Russian "От: … Отправлено: …".
const REPLY_HEADERS = [
  /^On\b[^\n]{0,300}(\n[^\n]{0,300})?\bwrote:[ \t]*$/m,
  /^-{2,}[ \t]*(Original Message|Исходное сообщение)[ \t]*-{2,}/im,
  /^(From|От):[^\n]*\n(Sent|Date|Отправлено|Дата):/m,
  /^[^\n]{0,300}(пишет|написал\(а\)|написала?):[ \t]*$/m,
];

/** The new text of a letter: the quoted original of a reply and quoted ("> ") lines taken away. */
export function withoutQuotes(text: string): string {
  let end = text.length;
  for (const pattern of REPLY_HEADERS) {
    const match = pattern.exec(text);
    if (match && match.index < end) end = match.index;
  }
  return text
    .slice(0, end)
    .split('\n')
    .filter((line) => !/^\s*>/.test(line))
    .join('\n');
}

/** A short plain-text excerpt: blank runs squeezed, cut at a word boundary. */
export function excerpt(text: string, maxChars: number): string {
  const squeezed = text
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  if (squeezed.length <= maxChars) return squeezed;
  const cut = squeezed.slice(0, maxChars);
  const space = cut.search(/\s\S*$/);
  return `${(space > maxChars * 0.8 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/**
 * The signature block of a letter's new text: what follows the last "-- " separator (RFC 3676
 * §4.3; many clients drop the trailing space), else its last 10 non-blank lines.
 */
export function signatureBlock(text: string): string {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    if (/^--[ \t]?$/.test(lines[i] ?? '')) return lines.slice(i + 1).join('\n');
  }
  return lines
    .filter((l) => l.trim() !== '')
    .slice(-10)
    .join('\n');
}

/** Phone numbers (E.164) written in a signature block, except the company's own. */
export function signaturePhones(signature: string, defaultCountry: string, companyPhones: ReadonlySet<string>): string[] {
  const found = new Set<string>();
  for (const match of findPhoneNumbersInText(signature, { defaultCountry: defaultCountry as CountryCode })) {
    if (!match.number.isValid()) continue;
    const e164 = normalizePhone(match.number.number, defaultCountry);
    if (e164 && !companyPhones.has(e164)) found.add(e164);
  }
  return [...found];
}
