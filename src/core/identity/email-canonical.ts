/**
 * Provider rules that make two spellings one mailbox, applied only when the config asks for them
 * (identity.emailCanonicalization): Gmail ignores dots in the local part and everything after "+";
 * most providers deliver "name+tag@" to "name@" (RFC 5233 subaddressing); Yandex treats "-" in the
 * local part as "." and serves one mailbox on many domains.
 */
export type EmailRule = 'plusTags' | 'gmailDots' | 'yandexDomains';

const GMAIL = new Set(['gmail.com', 'googlemail.com']);
const YANDEX = new Set(['yandex.ru', 'ya.ru', 'yandex.com', 'yandex.by', 'yandex.kz', 'yandex.ua', 'narod.ru']);

/** The canonical mailbox of an already-normalized address (lower case, punycode domain). */
export function canonicalEmail(email: string, rules: readonly EmailRule[]): string {
  if (rules.length === 0) return email;
  const at = email.lastIndexOf('@');
  let local = email.slice(0, at);
  let domain = email.slice(at + 1);
  if (rules.includes('plusTags')) {
    const plus = local.indexOf('+');
    if (plus > 0) local = local.slice(0, plus);
  }
  if (rules.includes('gmailDots') && GMAIL.has(domain)) {
    local = local.replace(/\./g, '');
    domain = 'gmail.com';
  }
  if (rules.includes('yandexDomains') && YANDEX.has(domain)) {
    local = local.replace(/-/g, '.');
    domain = 'yandex.ru';
  }
  return `${local}@${domain}`;
}
