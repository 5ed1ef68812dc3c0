const MONTHS: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
  янв: 1, фев: 2, мар: 3, апр: 4, мая: 5, май: 5, июн: 6, июл: 7, авг: 8, сен: 9, окт: 10, ноя: 11, дек: 12,
};

function valid(year: number, month: number, day: number): string | null {
  if (year < 1850 || year > 2200 || month < 1 || month > 12 || day < 1 || day > 31) return null;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1) return null;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

function fullYear(y: string): number {
  const n = Number(y);
  if (y.length === 4) return n;
  // Two-digit years are birth years: the century that does not put the date in the future.
  const now = new Date().getUTCFullYear() % 100;
  return n > now ? 1900 + n : 2000 + n;
}

/**
 * A calendar date written in any common way, as YYYY-MM-DD; null when it is not one.
 * Accepted: ISO (1980-02-03, 1980-02-03T00:00:00Z), compact 19800203, day-first with dots as in
 * Russia and Germany (03.02.1980), slashes (03/02/1980 is read day-first; 12/31/1980, whose second
 * number cannot be a month, month-first as in the US), month names in English or Russian
 * (3 Feb 1980, 3 февраля 1980, February 3, 1980); a Russian year mark after the year ("1980 г.") is dropped.
 */
export function normalizeDate(raw: string): string | null {
  // Russian documents and 1C printouts end a date with "г." or "года" (year): "3 февраля 1980 г.".
  const text = raw.trim().toLowerCase().replace(/(\d)\s*(?:г\.?|года)$/, '$1');
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[t ].*)?$/.exec(text);
  if (m) return valid(Number(m[1]), Number(m[2]), Number(m[3]));
  m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (m) return valid(Number(m[1]), Number(m[2]), Number(m[3]));
  m = /^(\d{4})[./](\d{1,2})[./](\d{1,2})$/.exec(text);
  if (m) return valid(Number(m[1]), Number(m[2]), Number(m[3]));
  // A time may follow, as in 1C and Excel exports: "03.02.1980 0:00:00".
  m = /^(\d{1,2})([./-])(\d{1,2})\2(\d{2}|\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$/.exec(text);
  if (m) {
    const a = Number(m[1]);
    const b = Number(m[3]);
    const year = fullYear(m[4] ?? '');
    // Dots and dashes are day-first everywhere they are used; slashes are ambiguous: day-first
    // unless that cannot be a date.
    if (m[2] === '/' && b > 12) return valid(year, a, b);
    return valid(year, b, a) ?? (m[2] === '/' ? valid(year, a, b) : null);
  }
  m = /^(\d{1,2})\s+([a-zа-я]+)\.?,?\s+(\d{4})$/.exec(text);
  if (m) {
    const month = MONTHS[(m[2] ?? '').slice(0, 3)];
    return month ? valid(Number(m[3]), month, Number(m[1])) : null;
  }
  m = /^([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$/.exec(text);
  if (m) {
    const month = MONTHS[(m[1] ?? '').slice(0, 3)];
    return month ? valid(Number(m[3]), month, Number(m[2])) : null;
  }
  return null;
}
