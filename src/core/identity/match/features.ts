import doubleMetaphone from 'talisman/phonetics/double-metaphone.js';
import { fold, traitText, words } from '../text.js';
import { normalizeDate } from '../dates.js';
import { companyKey } from '../company.js';
import type { Identifier } from '../normalize.js';

/** How a trait is compared; see compare.ts. */
export type Comparator = 'text' | 'code' | 'date' | 'company';

/** What the matcher knows of one record: folded, transliterated, ready to compare. */
export type MatchFeatures = {
  given: string[];
  family: string[];
  /** Name words whose role is unknown (a fullName without first/last). */
  anyName: string[];
  fields: Record<string, string>;
  emails: string[];
  phones: string[];
};

export type FieldSpec = { trait: string; comparator: Comparator };

function nameWords(traits: Record<string, unknown>, ...names: string[]): string[] {
  return names.flatMap((n) => {
    const text = traitText(traits[n]);
    return text ? words(text) : [];
  });
}

function fieldValue(raw: string, comparator: Comparator): string | null {
  if (comparator === 'date') return normalizeDate(raw);
  if (comparator === 'company') return companyKey(raw);
  // Codes (postcodes, tax and social ids) compare as their letters and digits only.
  const folded = comparator === 'code' ? fold(raw).replace(/ /g, '') : fold(raw);
  return folded === '' ? null : folded;
}

/**
 * What the matcher keeps of a record: its features, or null when it has no name and no compared
 * trait (most interactions: they join profiles by identifiers only).
 */
export function matchableFeatures(traits: Record<string, unknown>, identifiers: readonly Identifier[], fields: readonly FieldSpec[]): MatchFeatures | null {
  const f = matchFeatures(traits, identifiers, fields);
  return f.given.length + f.family.length + f.anyName.length + Object.keys(f.fields).length > 0 ? f : null;
}

/** Features of a record from its traits and normalized identifiers. */
export function matchFeatures(traits: Record<string, unknown>, identifiers: readonly Identifier[], fields: readonly FieldSpec[]): MatchFeatures {
  const given = nameWords(traits, 'firstName', 'middleName');
  const family = nameWords(traits, 'lastName');
  const anyName = given.length === 0 && family.length === 0 ? nameWords(traits, 'fullName', 'name') : [];
  const values: Record<string, string> = {};
  for (const spec of fields) {
    const text = traitText(traits[spec.trait]);
    const value = text === null ? null : fieldValue(text, spec.comparator);
    if (value !== null) values[spec.trait] = value;
  }
  return {
    given,
    family,
    anyName,
    fields: values,
    emails: identifiers.filter((i) => i.type === 'email').map((i) => i.value),
    phones: identifiers.filter((i) => i.type === 'phone').map((i) => i.value),
  };
}

const PHONETIC_CACHE_SIZE = 50_000;
const phoneticCache = new Map<string, string>();

/** The primary Double Metaphone code of a folded word: Ivanov, Ivanoff and Иванов share one. */
export function phonetic(word: string): string {
  let code = phoneticCache.get(word);
  if (code === undefined) {
    code = doubleMetaphone(word)[0] || word;
    // Names repeat: a bounded cache, emptied when full, keeps the matcher from recomputing them.
    if (phoneticCache.size >= PHONETIC_CACHE_SIZE) phoneticCache.clear();
    phoneticCache.set(word, code);
  }
  return code;
}
