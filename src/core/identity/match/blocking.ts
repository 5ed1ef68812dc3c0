import { phonetic, type MatchFeatures } from './features.js';

/**
 * Keys under which a record is filed so that its likely duplicates are found by index lookups, never
 * by scanning: two records of one person share at least one key unless they differ in almost
 * everything. Each key pairs a sound-alike name code with something else, so that a key is shared
 * by few people even in a large store.
 */
export function blockingKeys(f: MatchFeatures): string[] {
  const keys = new Set<string>();
  const dob = f.fields['birthDate'];
  const city = f.fields['city'];
  const year = dob?.slice(0, 4);
  const postcode = f.fields['postcode'];
  const family = f.family.map(phonetic);
  const given = f.given.map(phonetic);
  const anyName = f.anyName.map(phonetic);
  const names = [...family, ...given, ...anyName];
  for (const n of names) {
    if (year) keys.add(`ny:${n}:${year}`);
    if (postcode) keys.add(`np:${n}:${postcode}`);
  }
  // First and last name together, in either order: catches a mistyped birth date or a move.
  const sorted = [...new Set(names)].sort();
  for (let i = 0; i < sorted.length; i += 1) for (let j = i + 1; j < sorted.length; j += 1) keys.add(`nn:${sorted[i]}:${sorted[j]}`);
  if (dob && postcode) keys.add(`dp:${dob}:${postcode}`);
  if (dob && city) keys.add(`dc:${dob}:${city}`);
  if (dob) for (const g of given) keys.add(`dg:${dob}:${g[0] ?? ''}`);
  const nationalId = f.fields['nationalId'];
  if (nationalId) keys.add(`id:${nationalId}`);
  if (city) for (const n of names) keys.add(`nc:${n}:${city}`);
  const address = f.fields['address'];
  if (address) {
    const street = address.split(' ').slice(0, 2).join(' ');
    // Number and street alone: a mistyped postcode or town still finds the house.
    keys.add(`a:${street}`);
  }
  for (const email of f.emails) keys.add(`el:${email.slice(0, email.lastIndexOf('@'))}`);
  return [...keys];
}
