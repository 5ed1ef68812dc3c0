import type { Identifier } from '../normalize.js';
import type { MatchFeatures } from './features.js';
import { scorePair, type MatchRules } from './compare.js';
import { rankCandidates, type Filing, type RankedCandidate } from './rank.js';

/**
 * The decisions of identity resolution for one batch, as a pure function of what the store holds
 * around it: which profile each record joins, which profiles merge and why, which pairs go to
 * review. profile.store.ts reads the inputs and writes the outputs in one transaction.
 */

export type MatchSettings = {
  enabled: boolean;
  autoMerge: number;
  review: number;
  minAgreements: number;
  conflict: number;
  reviewPairsPerRecord: number;
  maxProfilesPerIdentifier: number;
  /** A blocking key filed under more records than this is too common to find candidates by. */
  candidatesPerKey: number;
  /** Candidates scored per record: those sharing the most usable keys with it. */
  candidatesPerRecord: number;
  /** Bits the automatic-merge bar rises per doubling of the records crowding a pair's rarest shared key. */
  crowding: number;
  rules: MatchRules;
};

export type BatchRecord = {
  key: string;
  ids: readonly Identifier[];
  /** Null when the record carries nothing to match on (most interactions). */
  features: MatchFeatures | null;
  blockingKeys: readonly string[];
  /** The profile the record is already stored in (a re-sent record). */
  storedProfile: string | null;
};

/** A record already in the store, seen through an identifier or a blocking key. */
export type KnownRecord = { key: string; profileId: string; features: MatchFeatures | null };

export type StoreView = {
  /** Profiles involved, with their creation time (the oldest survives a merge). */
  profiles: ReadonlyMap<string, number>;
  /** Per identifier (`type\0value`): the live profiles holding it, with a few of their records. */
  linked: ReadonlyMap<string, readonly KnownRecord[]>;
  /** Per blocking key: the stored records filed under it (keys too common are left out). */
  candidates: ReadonlyMap<string, readonly KnownRecord[]>;
  /** Per blocking key of the batch: how many stored records are filed under it (counted up to candidatesPerKey + 1). */
  keyCounts: ReadonlyMap<string, number>;
  /** Profile pairs that must not merge automatically (split, dismissed). */
  constraints: readonly (readonly [string, string])[];
  /** Identifiers that never link: blocklisted values. */
  blocked: ReadonlySet<string>;
};

export type Merge = { survivor: string; merged: string; reason: string; score: number | null };
export type ReviewPair = { a: string; b: string; score: number; reasons: string[] };
export type Plan = {
  profileOf: Map<string, string>;
  /** Why each record joined others (absent: it stands alone or stays where it was). */
  linkOf: Map<string, Edge>;
  newProfiles: string[];
  merges: Merge[];
  review: ReviewPair[];
  /** Identifiers found on too many profiles: they stopped linking. */
  shared: { type: string; value: string; profiles: number }[];
};

export type Edge = { reason: string; score: number | null };

const MAX_REASONS = 3;

/** Appends to the list under a key, creating it. */
function file<T>(map: Map<string, T[]>, key: string, value: T) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export function identifierKey(i: Identifier): string {
  return `${i.type}\u0000${i.value}`;
}

function withoutIdentifiers(f: MatchFeatures): MatchFeatures {
  return { ...f, emails: [], phones: [] };
}

export function planBatch(batch: readonly BatchRecord[], view: StoreView, settings: MatchSettings, newId: () => string): Plan {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    const p = parent.get(x);
    if (p === undefined || p === x) return x;
    const root = find(p);
    parent.set(x, root);
    return root;
  };
  // Profile pairs that must stay apart, and per component root the constrained profiles it holds.
  const forbidden = new Map<string, Set<string>>();
  for (const [a, b] of view.constraints) {
    forbidden.set(a, (forbidden.get(a) ?? new Set()).add(b));
    forbidden.set(b, (forbidden.get(b) ?? new Set()).add(a));
  }
  const constrained = new Map<string, Set<string>>();
  // Per component root: the first few reasons it was joined by (enough to explain a merge) and the best score.
  const edges = new Map<string, { reasons: string[]; score: number | null }>();
  for (const id of forbidden.keys()) constrained.set(`p:${id}`, new Set([id]));

  /** Joins two components unless that would put a constrained pair together. */
  function union(x: string, y: string, edge: Edge | null): boolean {
    const rx = find(x);
    const ry = find(y);
    if (rx === ry) return true;
    const cx = constrained.get(rx);
    const cy = constrained.get(ry);
    if (cx && cy) for (const p of cx) for (const q of cy) if (forbidden.get(p)?.has(q)) return false;
    parent.set(rx, ry);
    if (cx) constrained.set(ry, new Set([...(cy ?? []), ...cx]));
    const into = edges.get(ry) ?? { reasons: [], score: null };
    for (const e of [edges.get(rx), edge ? { reasons: [edge.reason], score: edge.score } : undefined]) {
      if (!e) continue;
      for (const reason of e.reasons) if (into.reasons.length < MAX_REASONS && !into.reasons.includes(reason)) into.reasons.push(reason);
      if (e.score !== null && (into.score === null || e.score > into.score)) into.score = e.score;
    }
    edges.set(ry, into);
    edges.delete(rx);
    return true;
  }

  const linkOf = new Map<string, Edge>();
  const link = (record: BatchRecord, other: string, edge: Edge) => {
    if (union(`r:${record.key}`, other, edge) && !linkOf.has(record.key)) linkOf.set(record.key, edge);
  };

  const shared: Plan['shared'] = [];
  const linking = new Map<string, readonly KnownRecord[]>();
  for (const [key, holders] of view.linked) {
    const profiles = new Set(holders.map((h) => h.profileId)).size;
    if (view.blocked.has(key)) continue;
    if (profiles > settings.maxProfilesPerIdentifier) {
      const [type = '', value = ''] = key.split('\u0000');
      shared.push({ type, value, profiles });
      continue;
    }
    linking.set(key, holders);
  }

  const seenById = new Map<string, BatchRecord[]>();
  const seenByBlock = new Map<string, BatchRecord[]>();
  const filedInBatch = new Map<string, number>();
  const bestReview = new Map<string, { other: string; score: number; reasons: string[] }[]>();

  /** Traits that contradict each other enough that a shared email or phone must not join them. */
  const conflicts = (a: MatchFeatures | null, b: MatchFeatures | null) =>
    a !== null && b !== null && scorePair(withoutIdentifiers(a), withoutIdentifiers(b), settings.rules).score <= settings.conflict;

  /** Records filed under a key of the batch: counted by the store, plus those earlier in the batch (at least one: a record filed since the store counted is still there). */
  const filedUnder = (block: string) => Math.max(1, (view.keyCounts.get(block) ?? 0) + (filedInBatch.get(block) ?? 0));

  /** More of their compared fields differ than agree: two people, whatever a third record says. */
  const apart = (a: MatchFeatures, b: MatchFeatures) => {
    const s = scorePair(a, b, settings.rules);
    return s.disagreements > s.agreements;
  };

  /**
   * The records worth scoring against one, ranked (rank.ts) among those filed under its usable keys,
   * stored or earlier in the batch, each with the keys it shares. A key is usable while at most
   * candidatesPerKey records are filed under it; the store reads the same way (profile.store.ts), so
   * the cost of a record does not grow with the store.
   */
  function candidatesOf(r: BatchRecord): RankedCandidate<{ node: string; features: MatchFeatures | null }>[] {
    const filings: Filing<{ node: string; features: MatchFeatures | null }>[] = [];
    for (const block of r.blockingKeys) {
      const filed = filedUnder(block);
      if (filed > settings.candidatesPerKey) continue;
      for (const known of view.candidates.get(block) ?? []) filings.push({ id: known.key, block, filed, item: { node: `p:${known.profileId}`, features: known.features } });
      for (const earlier of seenByBlock.get(block) ?? []) {
        if (earlier !== r) filings.push({ id: earlier.key, block, filed, item: { node: `r:${earlier.key}`, features: earlier.features } });
      }
    }
    return rankCandidates(filings, settings.candidatesPerRecord);
  }

  /** Per component, how many of the records filed under a key it holds (those read or earlier in the batch). */
  function componentsUnder(block: string): Map<string, number> {
    const counts = new Map<string, number>();
    const count = (root: string) => counts.set(root, (counts.get(root) ?? 0) + 1);
    for (const known of view.candidates.get(block) ?? []) count(find(`p:${known.profileId}`));
    for (const earlier of seenByBlock.get(block) ?? []) count(find(`r:${earlier.key}`));
    return counts;
  }

  /**
   * Other people a pair's agreements could as well point to: the records filed under the
   * least-filled key the pair shares, less those known to be in the candidate's own cluster (a
   * person's earlier records are no rivals). Counted, not read: records the store left unread count.
   * `under` keeps componentsUnder per key while no component changes (one record's candidates
   * share most of their keys).
   */
  function rivalsOf(keys: readonly string[], root: string, under: Map<string, Map<string, number>>): number {
    let fewest = Infinity;
    for (const block of keys) {
      let components = under.get(block);
      if (!components) under.set(block, (components = componentsUnder(block)));
      fewest = Math.min(fewest, filedUnder(block) - (components.get(root) ?? 0));
    }
    return Math.max(0, fewest);
  }

  for (const r of batch) {
    const node = `r:${r.key}`;
    if (r.storedProfile) union(node, `p:${r.storedProfile}`, null);

    for (const id of r.ids) {
      const key = identifierKey(id);
      if (view.blocked.has(key) || (view.linked.has(key) && !linking.has(key))) continue;
      const reason = `shared ${id.type}`;
      for (const known of linking.get(key) ?? []) {
        if (!conflicts(r.features, known.features)) link(r, `p:${known.profileId}`, { reason, score: null });
      }
      for (const earlier of seenById.get(key) ?? []) {
        if (!conflicts(r.features, earlier.features)) link(r, `r:${earlier.key}`, { reason, score: null });
      }
      file(seenById, key, r);
    }

    if (settings.enabled && r.features) {
      // The best-scoring record of each component among the candidates.
      const best = new Map<string, { node: string; features: MatchFeatures; score: number; reasons: string[] }>();
      const under = new Map<string, Map<string, number>>();
      for (const { item: { node: other, features }, keys } of candidatesOf(r)) {
        if (!features) continue;
        const s = scorePair(r.features, features, settings.rules);
        // Fewer fields differing than agreeing: a namesake born the same day who lives, writes and
        // is reached elsewhere is as likely someone else.
        const eligible = s.agreements >= settings.minAgreements && s.disagreements <= s.agreements && s.identifyingCompared >= 1 && !s.vetoed;
        const root = find(other);
        // The more people share even the rarest key of the pair (namesakes in one town, say), the
        // likelier its agreements are chance: the bar rises with them. In a small store it stays.
        const crowd = settings.crowding * Math.log2(1 + rivalsOf(keys, root, under));
        const sure = eligible && s.score >= settings.autoMerge && s.score >= settings.autoMerge + crowd;
        // The review bar rises alike: a name shared by a town's worth of people is no reason to ask
        // a person (in a replay of 20,000 Russian records, 19,320 proposed pairs, 55 of one person).
        const worthAsking = s.score >= settings.review + crowd;
        const score = sure ? s.score : Math.min(s.score, worthAsking ? settings.autoMerge - 0.01 : settings.review - 0.01);
        if ((best.get(root)?.score ?? -Infinity) < score) best.set(root, { node: other, features, score, reasons: s.reasons });
      }
      const ranked = [...best.values()].sort((a, b) => b.score - a.score);
      const proposals: { other: string; score: number; reasons: string[] }[] = [];
      // A further match joins only if it does not look like someone else than those the record
      // already joined, by an identifier or a better score (a record of Karen Marski must not bridge
      // her to Karen Matski born the same day).
      const joined: MatchFeatures[] = [
        ...ranked.filter((c) => find(c.node) === find(node)).map((c) => c.features),
        ...r.ids.flatMap((id) => linking.get(identifierKey(id)) ?? []).flatMap((k) => (k.features && find(`p:${k.profileId}`) === find(node) ? [k.features] : [])),
      ];
      for (const c of ranked) {
        if (find(c.node) === find(node)) continue;
        let score = c.score;
        if (score >= settings.autoMerge && joined.some((j) => apart(j, c.features))) score = settings.autoMerge - 0.01;
        if (score >= settings.autoMerge) {
          const edge = { reason: `match ${c.reasons.join(', ')}`, score };
          if (union(node, c.node, edge)) {
            if (!linkOf.has(r.key)) linkOf.set(r.key, edge);
            joined.push(c.features);
            continue;
          }
        }
        if (score >= settings.review && proposals.length < settings.reviewPairsPerRecord) proposals.push({ other: c.node, score, reasons: c.reasons });
      }
      if (proposals.length > 0) bestReview.set(node, proposals);
      for (const block of r.blockingKeys) {
        const filed = (filedInBatch.get(block) ?? 0) + 1;
        filedInBatch.set(block, filed);
        // Past the limit nobody reads the key: no need to keep its records.
        if ((view.keyCounts.get(block) ?? 0) + filed <= settings.candidatesPerKey) file(seenByBlock, block, r);
      }
    }
  }

  // Each component: its oldest profile survives, the others merge into it; none: a new profile.
  const membersByRoot = new Map<string, string[]>();
  for (const id of view.profiles.keys()) {
    file(membersByRoot, find(`p:${id}`), id);
  }
  const profileOfRoot = new Map<string, string>();
  const newProfiles: string[] = [];
  const merges: Merge[] = [];
  const profileOfNode = (n: string): string => {
    const root = find(n);
    let survivor = profileOfRoot.get(root);
    if (survivor) return survivor;
    const members = (membersByRoot.get(root) ?? []).sort((a, b) => (view.profiles.get(a) ?? 0) - (view.profiles.get(b) ?? 0) || (a < b ? -1 : 1));
    survivor = members[0] ?? newId();
    if (members.length === 0) newProfiles.push(survivor);
    const why = edges.get(root);
    for (const merged of members.slice(1)) merges.push({ survivor, merged, reason: why?.reasons.join('; ') || 'records joined', score: why?.score ?? null });
    profileOfRoot.set(root, survivor);
    return survivor;
  };
  const profileOf = new Map<string, string>();
  for (const r of batch) profileOf.set(r.key, profileOfNode(`r:${r.key}`));

  const review: ReviewPair[] = [];
  const seenPairs = new Set<string>();
  for (const [node, proposals] of bestReview) {
    const a = profileOfNode(node);
    for (const p of proposals) {
      const b = profileOfNode(p.other);
      const pair = a < b ? `${a}|${b}` : `${b}|${a}`;
      if (a === b || seenPairs.has(pair)) continue;
      seenPairs.add(pair);
      review.push({ a: a < b ? a : b, b: a < b ? b : a, score: p.score, reasons: p.reasons });
    }
  }
  return { profileOf, linkOf, newProfiles, merges, review, shared };
}
