/** A record filed under one of the blocking keys of the record being matched. */
export type Filing<T> = {
  /** The filed record's key: a record filed under several of the keys is one candidate. */
  id: string;
  block: string;
  /** Records filed under `block` (at least one): the fewer, the more telling it is to share it. */
  filed: number;
  item: T;
};

export type RankedCandidate<T> = { id: string; item: T; keys: string[] };

/**
 * The records worth scoring against one: those sharing the most of its blocking keys first, then
 * the rarest keys (the sum of 1 / records filed under each), then by id; at most `limit`. The store
 * picks the candidates it reads with it and the planner the ones it scores, so they agree.
 */
export function rankCandidates<T>(filings: Iterable<Filing<T>>, limit: number): RankedCandidate<T>[] {
  const found = new Map<string, RankedCandidate<T> & { shared: number; rarity: number }>();
  for (const f of filings) {
    const seen = found.get(f.id);
    if (seen) {
      seen.shared += 1;
      seen.rarity += 1 / f.filed;
      seen.keys.push(f.block);
    } else found.set(f.id, { id: f.id, item: f.item, keys: [f.block], shared: 1, rarity: 1 / f.filed });
  }
  return [...found.values()]
    .sort((a, b) => b.shared - a.shared || b.rarity - a.rarity || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, limit)
    .map(({ id, item, keys }) => ({ id, item, keys }));
}
