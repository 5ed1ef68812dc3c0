import { describe, expect, it } from 'vitest';
import { mistakes, scorePairs, type Assignment } from '../../bench/match/score.js';

// Truth: people a (4 records), b (2), c (1). The hub made profile P = a1 a2 a3 b1, Q = a4 b2, R = c1.
//   true pairs:      a: 6, b: 1            → 7
//   predicted pairs: P: 6, Q: 1            → 7
//   true positives:  (P,a): 3 → 3          ; P = 3/7, R = 3/7, F1 = 3/7
const clustering: Assignment[] = [
  { predicted: 'P', truth: 'a' },
  { predicted: 'P', truth: 'a' },
  { predicted: 'P', truth: 'a' },
  { predicted: 'P', truth: 'b' },
  { predicted: 'Q', truth: 'a' },
  { predicted: 'Q', truth: 'b' },
  { predicted: 'R', truth: 'c' },
];

describe('pairwise scoring', () => {
  it('counts predicted, true and correct pairs from cluster sizes', () => {
    const score = scorePairs(clustering);
    expect(score).toMatchObject({ records: 7, clusters: 3, predictedPairs: 7, truePairs: 7, truePositives: 3 });
    expect(score.precision).toBeCloseTo(3 / 7, 12);
    expect(score.recall).toBeCloseTo(3 / 7, 12);
    expect(score.f1).toBeCloseTo(3 / 7, 12);
  });

  it('scores precision and recall apart when they differ', () => {
    // One profile for a1 a2 b1 (1 correct pair of 3), a3 alone: a has 3 true pairs, 1 found.
    const score = scorePairs([
      { predicted: 'P', truth: 'a' },
      { predicted: 'P', truth: 'a' },
      { predicted: 'P', truth: 'b' },
      { predicted: 'S', truth: 'a' },
    ]);
    expect(score.precision).toBeCloseTo(1 / 3, 12);
    expect(score.recall).toBeCloseTo(1 / 3, 12);
    const merged = scorePairs([
      { predicted: 'P', truth: 'a' },
      { predicted: 'P', truth: 'a' },
      { predicted: 'Q', truth: 'a' },
      { predicted: 'R', truth: 'b' },
    ]);
    expect(merged.precision).toBe(1);
    expect(merged.recall).toBeCloseTo(1 / 3, 12);
    expect(merged.f1).toBeCloseTo(0.5, 12);
  });

  it('gives a perfect score to the true clustering and F1 0 with no pair predicted', () => {
    const perfect = scorePairs(clustering.map((a) => ({ predicted: `p-${a.truth}`, truth: a.truth })));
    expect(perfect).toMatchObject({ precision: 1, recall: 1, f1: 1 });
    const none = scorePairs(clustering.map((a, i) => ({ predicted: String(i), truth: a.truth })));
    expect(none.predictedPairs).toBe(0);
    expect(none.precision).toBeNaN();
    expect(none).toMatchObject({ recall: 0, f1: 0 });
  });

  it('lists wrongly merged and missed pairs by record index', () => {
    const found = mistakes(clustering, 10);
    // Same profile, different people: in P, each of a1 a2 a3 with b1; in Q, a4 with b2.
    expect(found.falsePositives).toEqual(expect.arrayContaining([[0, 3], [1, 3], [2, 3], [4, 5]]));
    expect(found.falsePositives).toHaveLength(4);
    // Same person, different profiles: a1 a2 a3 each with a4; b1 with b2.
    expect(found.falseNegatives).toEqual(expect.arrayContaining([[0, 4], [1, 4], [2, 4], [3, 5]]));
    expect(found.falseNegatives).toHaveLength(4);
    expect(mistakes(clustering, 1).falsePositives).toHaveLength(1);
    expect(mistakes(clustering, 0)).toEqual({ falsePositives: [], falseNegatives: [] });
  });
});
