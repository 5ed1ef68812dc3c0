import jaroWinkler from 'talisman/metrics/jaro-winkler.js';
import damerauLevenshtein from 'talisman/metrics/damerau-levenshtein.js';
import { phonetic, type Comparator, type FieldSpec, type MatchFeatures } from './features.js';

/** How well two values agree. */
export type Level = 'exact' | 'close' | 'weak' | 'diff';

/**
 * Evidence, in bits, that a level gives for "same person": log2(m/u) in Fellegi–Sunter terms, where
 * m is how often the level occurs between records of one person and u between records of two.
 */
export type Weights = { exact: number; close: number; weak: number; diff: number };

/**
 * `identifying`: agreement on it tells people apart beyond their names (a birth date, an address, an
 * id). `veto`: a plain disagreement on it (not a typo, not a swap) rules out an automatic merge,
 * whatever else agrees (a father and son of one name at one address differ in birth date), unless a
 * `decisive` field (a national id) agrees exactly.
 */
export type FieldRule = FieldSpec & { weights: Weights; identifying?: boolean; veto?: boolean; decisive?: boolean };

export type MatchRules = {
  given: Weights;
  family: Weights;
  emails: Weights;
  phones: Weights;
  fields: readonly FieldRule[];
};

/**
 * The sum of weights; how many fields agreed (exact or close) and how many differed; how many
 * identifying fields (marked so in the rules: a birth date, an address, a national id) both records
 * have; each field's level in words.
 */
export type Score = { score: number; agreements: number; disagreements: number; identifyingCompared: number; vetoed: boolean; reasons: string[] };

const CLOSE_SIMILARITY = 0.9;

function wordLevel(a: string, b: string): Level {
  if (a === b) return 'exact';
  // An initial against a name that starts with it: "I." for Ivan.
  if ((a.length === 1 || b.length === 1) && a[0] === b[0]) return 'weak';
  if (a.length > 1 && b.length > 1 && (phonetic(a) === phonetic(b) || typed(a, b) || scrambled(a, b))) return 'close';
  return 'diff';
}

/** One slip of the keyboard (an edit or two letters swapped), or two in a long name starting alike. */
function typed(a: string, b: string): boolean {
  const distance = damerauLevenshtein(a, b);
  return distance <= 1 || (distance === 2 && Math.min(a.length, b.length) >= 7 && a[0] === b[0]);
}

/**
 * The same letters typed out of order ("Theodroe"). Two slips anywhere else are left to typed(),
 * which wants the first letter kept: in a large store, "Marina" and "Karina" are two people.
 */
function scrambled(a: string, b: string): boolean {
  return Math.min(a.length, b.length) >= 5 && [...a].sort().join('') === [...b].sort().join('');
}

const RANK: Record<Level, number> = { exact: 3, close: 2, weak: 1, diff: 0 };

/** The best agreement between any word of one name and any word of the other (both sides non-empty). */
function namesLevel(a: readonly string[], b: readonly string[]): Level {
  let best: Level = 'diff';
  for (const x of a) for (const y of b) {
    const level = wordLevel(x, y);
    if (RANK[level] > RANK[best]) best = level;
    if (best === 'exact') return best;
  }
  // Words run together or split differently: "mary ann" = "maryann".
  if (best === 'diff' && a.join('') === b.join('')) return 'close';
  return best;
}

function codeLevel(a: string, b: string): Level {
  if (a === b) return 'exact';
  return a.length === b.length && damerauLevenshtein(a, b) <= 1 ? 'close' : 'diff';
}

function dateLevel(a: string, b: string): Level {
  if (a === b) return 'exact';
  const [ya, ma, da] = a.split('-');
  const [yb, mb, db] = b.split('-');
  // Day and month swapped (US vs European order), or one digit mistyped.
  if (ya === yb && ma === db && da === mb) return 'close';
  if (damerauLevenshtein(a.replace(/-/g, ''), b.replace(/-/g, '')) <= 1) return 'close';
  return ya === yb ? 'weak' : 'diff';
}

/** The first number written in a text (a house number), or null. */
function firstNumber(text: string): string | null {
  return /\d+/.exec(text)?.[0] ?? null;
}

function textLevel(a: string, b: string): Level {
  if (a === b) return 'exact';
  if (a.split(' ').sort().join(' ') === b.split(' ').sort().join(' ')) return 'exact';
  // "12 Lenina" and "48 Lenina" are two houses however alike the rest: numbers more than one
  // keystroke apart are not a typo.
  const na = firstNumber(a);
  const nb = firstNumber(b);
  if (na !== null && nb !== null && damerauLevenshtein(na, nb) > 1) return 'diff';
  return jaroWinkler(a, b) >= CLOSE_SIMILARITY ? 'close' : 'diff';
}

export function fieldLevel(comparator: Comparator, a: string, b: string): Level {
  if (comparator === 'code') return codeLevel(a, b);
  if (comparator === 'date') return dateLevel(a, b);
  return textLevel(a, b);
}

function emailLevel(a: readonly string[], b: readonly string[]): Level {
  if (a.some((x) => b.includes(x))) return 'exact';
  const locals = (list: readonly string[]) => list.map((e) => e.slice(0, e.lastIndexOf('@')));
  const la = locals(a);
  const lb = locals(b);
  // The same mailbox name at another provider, or one typo in it.
  if (la.some((x) => lb.some((y) => x === y || (x.length > 5 && damerauLevenshtein(x, y) <= 1)))) return 'close';
  return 'diff';
}

/**
 * How much the two records look like one person, as the sum of each compared field's weight.
 * A field missing on either side adds nothing. First and last names are also compared crossed,
 * for sources that swap them ("Petrov Ivan").
 */
export function scorePair(a: MatchFeatures, b: MatchFeatures, rules: MatchRules): Score {
  let score = 0;
  let agreements = 0;
  let disagreements = 0;
  let identifyingCompared = 0;
  let vetoes = 0;
  let decided = false;
  const reasons: string[] = [];
  const add = (name: string, level: Level, weights: Weights, identifying = false) => {
    score += weights[level];
    if (identifying) identifyingCompared += 1;
    if (level === 'exact' || level === 'close') agreements += 1;
    if (level === 'diff') disagreements += 1;
    reasons.push(`${name} ${level}`);
  };

  const aNames = a.given.length + a.family.length > 0;
  const bNames = b.given.length + b.family.length > 0;
  if (aNames && bNames) {
    let given = a.given.length > 0 && b.given.length > 0 ? namesLevel(a.given, b.given) : null;
    let family = a.family.length > 0 && b.family.length > 0 ? namesLevel(a.family, b.family) : null;
    if ((given ?? 'diff') === 'diff' || (family ?? 'diff') === 'diff') {
      const crossGiven = a.given.length > 0 && b.family.length > 0 ? namesLevel(a.given, b.family) : null;
      const crossFamily = a.family.length > 0 && b.given.length > 0 ? namesLevel(a.family, b.given) : null;
      const crossRank = RANK[crossGiven ?? 'diff'] + RANK[crossFamily ?? 'diff'];
      if (crossGiven !== null && crossFamily !== null && crossRank > RANK[given ?? 'diff'] + RANK[family ?? 'diff'] && crossRank >= 4) {
        // Swapped: count it, but not as sure as names in their places.
        given = crossGiven === 'exact' ? 'close' : crossGiven;
        family = crossFamily === 'exact' ? 'close' : crossFamily;
      }
    }
    if (given !== null) add('firstName', given, rules.given);
    if (family !== null) add('lastName', family, rules.family);
  } else {
    const wa = [...a.given, ...a.family, ...a.anyName];
    const wb = [...b.given, ...b.family, ...b.anyName];
    if (wa.length > 0 && wb.length > 0) {
      const level = namesLevel(wa, wb);
      add('name', level, rules.family);
    }
  }
  if (a.emails.length > 0 && b.emails.length > 0) add('email', emailLevel(a.emails, b.emails), rules.emails);
  if (a.phones.length > 0 && b.phones.length > 0) add('phone', a.phones.some((p) => b.phones.includes(p)) ? 'exact' : 'diff', rules.phones);
  for (const field of rules.fields) {
    const x = a.fields[field.trait];
    const y = b.fields[field.trait];
    if (x === undefined || y === undefined) continue;
    const level = fieldLevel(field.comparator, x, y);
    add(field.trait, level, field.weights, field.identifying === true);
    if (field.veto && level === 'diff') vetoes += 1;
    if (field.decisive && level === 'exact') decided = true;
  }
  return { score: Math.round(score * 100) / 100, agreements, disagreements, identifyingCompared, vetoed: vetoes > 0 && !decided, reasons };
}
