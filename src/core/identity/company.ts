import { words } from './text.js';

// Legal forms, folded (Cyrillic already transliterated by fold): they say how a company is
// registered, not which one it is. "ООО «Ромашка»" = "Romashka LLC" = "Romashka".
const LEGAL_FORMS = new Set([
  // Russia and CIS: ООО, ОАО, ЗАО, ПАО, АО, ИП, НКО, ГУП, МУП, ТОО
  'ooo', 'oao', 'zao', 'pao', 'ao', 'ip', 'nko', 'gup', 'mup', 'too',
  // English-speaking countries
  'llc', 'l', 'c', 'ltd', 'limited', 'inc', 'incorporated', 'corp', 'corporation', 'co', 'company', 'plc', 'llp', 'lp', 'pty',
  // Continental Europe
  'gmbh', 'ag', 'kg', 'ohg', 'ug', 'mbh', 'sa', 'sas', 'sarl', 'srl', 'spa', 'bv', 'nv', 'ab', 'as', 'oy', 'sp', 'z', 'o',
]);
const SPELLED_OUT = [
  'obshchestvo s ogranichennoy otvetstvennostyu',
  'obshchestvo s ogranichennoi otvetstvennostiu',
  // The transliterator writes ц as "c"; the longer phrase goes first so that no "publichnoe" is left.
  'publichnoe akcionernoe obshchestvo',
  'akcionernoe obshchestvo',
  'individualnyy predprinimatel',
  'limited liability company',
];

/** A company name reduced to what names the company: folded, legal forms and quotes gone; null if nothing is left. */
export function companyKey(raw: string): string | null {
  let folded = words(raw).join(' ');
  for (const phrase of SPELLED_OUT) folded = folded.replace(phrase, ' ');
  const kept = folded.split(' ').filter((w) => w !== '' && !LEGAL_FORMS.has(w));
  return kept.length > 0 ? kept.join(' ') : null;
}
