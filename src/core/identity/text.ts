import { transliterate } from 'transliteration';

/**
 * One script, one case, no marks: NFKC, lower case, Cyrillic (and any other script) transliterated
 * to ASCII Latin, punctuation to single spaces. "Фёдоров" and "FEDOROV" fold to "fedorov".
 */
export function fold(value: string): string {
  // Russian writes ё as е more often than not; folding first keeps Фёдоров = Федоров = Fedorov.
  const lower = value.normalize('NFKC').toLowerCase().replace(/ё/g, 'е');
  return transliterate(lower)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** The folded words of a value. */
export function words(value: string): string[] {
  const folded = fold(value);
  return folded ? folded.split(' ') : [];
}

/** A trait value as text, or null when it is empty or not text-like. */
export function traitText(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}
