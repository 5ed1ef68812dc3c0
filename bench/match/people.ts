// Deterministic synthetic people for the growth benchmark: person k always has the same name,
// birth date, address and email, spread widely enough (about 90 first names × 2,000 surnames ×
// 27,000 birth dates) that a store of 500k people looks like a real one to blocking keys, and
// messy copies of them (typos, missing fields, no email) as a second system would send them.
import type { HubRecord } from '../../src/core/record.schema.js';
import { prng } from '../data.js';

const FIRST = [
  'james', 'mary', 'john', 'patricia', 'robert', 'jennifer', 'michael', 'linda', 'william', 'elizabeth', 'david', 'barbara',
  'richard', 'susan', 'joseph', 'jessica', 'thomas', 'sarah', 'charles', 'karen', 'daniel', 'nancy', 'matthew', 'lisa',
  'anthony', 'betty', 'mark', 'margaret', 'donald', 'sandra', 'steven', 'ashley', 'paul', 'kimberly', 'andrew', 'emily',
  'joshua', 'donna', 'kenneth', 'michelle', 'kevin', 'carol', 'brian', 'amanda', 'george', 'melissa', 'timothy', 'deborah',
  'ronald', 'stephanie', 'edward', 'rebecca', 'jason', 'sharon', 'jeffrey', 'laura', 'ryan', 'cynthia', 'jacob', 'kathleen',
  'gary', 'amy', 'nicholas', 'angela', 'eric', 'shirley', 'jonathan', 'anna', 'stephen', 'brenda', 'larry', 'pamela',
  'justin', 'emma', 'scott', 'nicole', 'brandon', 'helen', 'benjamin', 'samantha', 'samuel', 'katherine', 'gregory', 'christine',
  'alexander', 'debra', 'frank', 'rachel', 'ivan', 'olga',
];
const SURNAME_ROOTS = [
  'ander', 'bar', 'bell', 'black', 'brad', 'brook', 'camp', 'carl', 'chap', 'clark', 'cole', 'craw', 'dal', 'den', 'dick',
  'don', 'ed', 'ell', 'fair', 'far', 'field', 'fitz', 'ford', 'gar', 'gib', 'gold', 'good', 'gray', 'green', 'ham', 'har',
  'hart', 'hay', 'hen', 'hill', 'hol', 'hud', 'jack', 'jam', 'jeff', 'ken', 'kim', 'king', 'lam', 'lang', 'law', 'lind',
  'mac', 'mar', 'mat', 'mill', 'mor', 'nel', 'new', 'nor', 'ol', 'park', 'pat', 'pen', 'rich', 'rob', 'ross', 'rut',
  'sand', 'shel', 'sim', 'stan', 'stein', 'sut', 'tal', 'thom', 'tim', 'turn', 'wal', 'ward', 'wat', 'west', 'wil', 'win', 'wood',
];
const SURNAME_ENDINGS = ['son', 'sen', 'ley', 'ton', 'man', 'well', 'wood', 'er', 'by', 'ford', 'ham', 'more', 'ridge', 'worth', 'field', 'stone', 'dale', 'ings', 'ner', 'kins', 'ovich', 'ov', 'enko', 'ski', 'berg'];
const STREETS = ['main', 'high', 'church', 'station', 'park', 'victoria', 'george', 'king', 'queen', 'mill', 'bridge', 'wallaby', 'banksia', 'acacia', 'river', 'hill', 'lake', 'forest', 'ocean', 'pine'];
const STREET_TYPES = ['street', 'road', 'avenue', 'place', 'crescent', 'circuit', 'drive', 'lane', 'court', 'parade'];
const CITY_PARTS = ['north', 'south', 'east', 'west', 'port', 'mount', 'glen', 'lake', 'new', 'upper'];
const CITY_ROOTS = ['ryde', 'dapto', 'marsden', 'granville', 'richlands', 'miami', 'delmar', 'cleveland', 'kela', 'milton', 'bega', 'yass', 'orange', 'dubbo', 'mackay', 'cairns', 'ballina', 'casino', 'nowra', 'moree'];
const DOMAINS = ['example.com', 'mail.test', 'post.test', 'inbox.test'];

/** A well-mixed 32-bit hash of (k, salt): independent-looking fields for consecutive k. */
function hash(k: number, salt: number): number {
  let h = Math.imul(k ^ Math.imul(salt, 0x9e3779b1), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

function pick<T>(list: readonly T[], k: number, salt: number): T {
  return list[hash(k, salt) % list.length] as T;
}

export type SyntheticPerson = { firstName: string; lastName: string; birthDate: string; address: string; city: string; postcode: string; email: string };

export function syntheticPerson(k: number): SyntheticPerson {
  const firstName = pick(FIRST, k, 1);
  const lastName = pick(SURNAME_ROOTS, k, 2) + pick(SURNAME_ENDINGS, k, 3);
  const born = new Date(Date.UTC(1930, 0, 1) + (hash(k, 4) % 27_000) * 86_400_000);
  return {
    firstName,
    lastName,
    birthDate: born.toISOString().slice(0, 10),
    address: `${1 + (hash(k, 5) % 300)} ${pick(STREETS, k, 6)} ${pick(STREET_TYPES, k, 7)}`,
    city: `${pick(CITY_PARTS, k, 8)} ${pick(CITY_ROOTS, k, 9)}`,
    postcode: String(2000 + (hash(k, 10) % 8000)),
    email: `${firstName}.${lastName}.${k}@${pick(DOMAINS, k, 11)}`,
  };
}

/** The clean record a first system holds for person k. */
export function cleanRecord(source: string, k: number): HubRecord {
  const { email, ...traits } = syntheticPerson(k);
  return { source, sourceId: String(k), kind: 'contact', identifiers: { emails: [email] }, traits };
}

/** One typo: a character dropped, doubled, replaced or two swapped. */
function typo(text: string, random: () => number): string {
  if (text.length < 3) return text;
  const at = 1 + Math.floor(random() * (text.length - 2));
  const kind = Math.floor(random() * 4);
  if (kind === 0) return text.slice(0, at) + text.slice(at + 1);
  if (kind === 1) return text.slice(0, at) + text.charAt(at) + text.slice(at);
  if (kind === 2) return text.slice(0, at) + String.fromCharCode(97 + Math.floor(random() * 26)) + text.slice(at + 1);
  return text.slice(0, at - 1) + text.charAt(at) + text.charAt(at - 1) + text.slice(at + 1);
}

/**
 * A messy record of person k from another system: typos in names and addresses, a day off in the
 * birth date, missing fields, and an email only now and then, so most links need the matcher.
 */
export function messyRecord(source: string, sourceId: string, k: number, random: () => number): HubRecord {
  const p = syntheticPerson(k);
  const chance = (x: number) => random() < x;
  const traits: Record<string, string> = {};
  traits['firstName'] = chance(0.2) ? typo(p.firstName, random) : p.firstName;
  if (!chance(0.05)) traits['lastName'] = chance(0.2) ? typo(p.lastName, random) : p.lastName;
  if (!chance(0.1)) traits['birthDate'] = chance(0.1) ? p.birthDate.slice(0, 8) + String((Number(p.birthDate.slice(8)) % 28) + 1).padStart(2, '0') : p.birthDate;
  if (!chance(0.2)) traits['address'] = chance(0.2) ? typo(p.address, random) : p.address;
  if (!chance(0.2)) traits['city'] = p.city;
  if (!chance(0.3)) traits['postcode'] = p.postcode;
  return { source, sourceId, kind: 'contact', ...(chance(0.3) ? { identifiers: { emails: [p.email] } } : {}), traits };
}

/**
 * `count` messy records, half of them of people 0..known-1 (already in a seeded store), half of
 * people nobody has seen; the same list for the same arguments.
 */
export function messyRecords(source: string, count: number, known: number, seed: number): { record: HubRecord; person: number }[] {
  const random = prng(seed);
  return Array.from({ length: count }, (_, i) => {
    const person = i % 2 === 0 ? (i / 2) % known : 1_000_000_000 + i;
    return { record: messyRecord(source, String(i + 1), person, random), person };
  });
}
