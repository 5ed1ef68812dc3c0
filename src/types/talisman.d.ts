// talisman ships CommonJS without type declarations; these are the two functions crm-hub uses.
declare module 'talisman/metrics/jaro-winkler.js' {
  const jaroWinkler: (a: string, b: string) => number;
  export default jaroWinkler;
}
declare module 'talisman/phonetics/double-metaphone.js' {
  const doubleMetaphone: (word: string) => [string, string];
  export default doubleMetaphone;
}
declare module 'talisman/metrics/damerau-levenshtein.js' {
  /** Optimal string alignment distance: edits counting an adjacent transposition as one. */
  const damerauLevenshtein: (a: string, b: string) => number;
  export default damerauLevenshtein;
}
