import type { MatchRules } from './compare.js';

/**
 * Default weights, in bits of evidence (log2 m/u). Starting points from how often each level occurs
 * between records of one person (m) and of two people (u) in customer data; tuned on the labelled
 * datasets in ../shared/data with `npm run bench:match`, with no rule naming a dataset.
 */
export const DEFAULT_RULES: MatchRules = {
  given: { exact: 6, close: 3, weak: 1, diff: -4 },
  family: { exact: 8, close: 4, weak: 1, diff: -5 },
  emails: { exact: 14, close: 5, weak: 0, diff: -1 },
  phones: { exact: 14, close: 4, weak: 0, diff: -1 },
  fields: [
    { trait: 'birthDate', identifying: true, comparator: 'date', weights: { exact: 12, close: 5, weak: -3, diff: -8 } },
    { trait: 'nationalId', identifying: true, decisive: true, comparator: 'code', weights: { exact: 18, close: 8, weak: 0, diff: -6 } },
    { trait: 'postcode', comparator: 'code', weights: { exact: 8, close: 2, weak: 0, diff: -4 } },
    { trait: 'city', comparator: 'text', weights: { exact: 5, close: 2, weak: 0, diff: -4 } },
    { trait: 'address', identifying: true, comparator: 'text', weights: { exact: 10, close: 5, weak: 0, diff: -5 } },
    { trait: 'state', comparator: 'text', weights: { exact: 1, close: 0, weak: 0, diff: -3 } },
    { trait: 'sex', comparator: 'text', weights: { exact: 0.5, close: 0, weak: 0, diff: -4 } },
    { trait: 'company', comparator: 'company', weights: { exact: 4, close: 2, weak: 0, diff: -1 } },
    { trait: 'jobTitle', comparator: 'text', weights: { exact: 4, close: 2, weak: 0, diff: -0.5 } },
  ],
};

export const DEFAULT_MATCHING = {
  autoMerge: 8,
  review: 4,
  minAgreements: 3,
  conflict: -8,
  candidatesPerKey: 20,
  candidatesPerRecord: 6,
  crowding: 4,
  reviewPairsPerRecord: 3,
};

/** Values people type when a form insists: they belong to nobody and must link nobody. */
export const DEFAULT_BLOCKLIST = {
  emails: ['test@test.com', 'test@example.com', 'example@example.com', 'no@email.com', 'noemail@noemail.com', 'none@none.com', 'a@a.ru', 'test@test.ru', 'test@mail.ru', 'nomail@mail.ru'],
  phones: ['+70000000000', '+79999999999', '+79000000000', '+71111111111', '+10000000000'],
};
