// Pairwise scoring of a clustering against the truth. Pairs are counted from cluster sizes
// (n·(n−1)/2 per group), never enumerated, so a profile of 5,000 records costs nothing more.

/** One record: the profile the hub put it in, and the person it really is. */
export type Assignment = { predicted: string; truth: string };

export type PairScore = {
  records: number;
  /** Distinct predicted clusters (profiles). */
  clusters: number;
  predictedPairs: number;
  truePairs: number;
  /** Predicted pairs that are true pairs. */
  truePositives: number;
  /** NaN when nothing was predicted: precision is undefined then. */
  precision: number;
  recall: number;
  f1: number;
};

function pairs(n: number): number {
  return (n * (n - 1)) / 2;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

function sumPairs(counts: Map<string, number>): number {
  let total = 0;
  for (const n of counts.values()) total += pairs(n);
  return total;
}

export function scorePairs(assignments: readonly Assignment[]): PairScore {
  const byPredicted = countBy(assignments, (a) => a.predicted);
  const byTruth = countBy(assignments, (a) => a.truth);
  // JSON keeps the two ids apart whatever characters they contain.
  const byCell = countBy(assignments, (a) => JSON.stringify([a.predicted, a.truth]));
  const predictedPairs = sumPairs(byPredicted);
  const truePairs = sumPairs(byTruth);
  const truePositives = sumPairs(byCell);
  const precision = predictedPairs === 0 ? Number.NaN : truePositives / predictedPairs;
  const recall = truePairs === 0 ? Number.NaN : truePositives / truePairs;
  const f1 = truePositives === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { records: assignments.length, clusters: byPredicted.size, predictedPairs, truePairs, truePositives, precision, recall, f1 };
}

/**
 * Up to `limit` wrongly merged pairs (same profile, different people) and up to `limit` missed pairs
 * (same person, different profiles), as indexes into `assignments`. At most one pair per profile
 * (per person for the missed ones) in a first pass, so the sample shows many distinct mistakes.
 */
export function mistakes(assignments: readonly Assignment[], limit: number): { falsePositives: [number, number][]; falseNegatives: [number, number][] } {
  return {
    falsePositives: samplePairs(assignments, limit, (a) => a.predicted, (a) => a.truth),
    falseNegatives: samplePairs(assignments, limit, (a) => a.truth, (a) => a.predicted),
  };
}

/** Pairs inside one `group` whose `other` differs. */
function samplePairs(assignments: readonly Assignment[], limit: number, group: (a: Assignment) => string, other: (a: Assignment) => string): [number, number][] {
  if (limit <= 0) return [];
  const groups = new Map<string, number[]>();
  assignments.forEach((a, i) => {
    const key = group(a);
    const members = groups.get(key);
    if (members) members.push(i);
    else groups.set(key, [i]);
  });
  const candidates: [number, number][][] = [];
  for (const members of groups.values()) {
    const found: [number, number][] = [];
    for (let x = 0; x < members.length && found.length < limit; x += 1) {
      for (let y = x + 1; y < members.length && found.length < limit; y += 1) {
        const i = members[x] as number;
        const j = members[y] as number;
        if (other(assignments[i] as Assignment) !== other(assignments[j] as Assignment)) found.push([i, j]);
      }
    }
    if (found.length > 0) candidates.push(found);
  }
  const picked: [number, number][] = [];
  for (let round = 0; picked.length < limit; round += 1) {
    let any = false;
    for (const found of candidates) {
      const pair = found[round];
      if (!pair) continue;
      any = true;
      picked.push(pair);
      if (picked.length >= limit) break;
    }
    if (!any) break;
  }
  return picked;
}
