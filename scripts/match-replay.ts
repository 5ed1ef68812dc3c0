// An in-memory stand-in for the store around planBatch, for scripts/tune-matcher.ts: it files
// records under their blocking keys and identifiers with the store's caps, picks each batch's
// candidates with the ranking profile.store.ts uses (rank.ts: usable keys only, at most
// candidatesPerRecord per record), counts keys up to candidatesPerKey + 1, and applies the plan's
// merges. Decisions come from the real planBatch, so its figures predict `npm run bench:match`.
import { identifierKey, planBatch, type KnownRecord, type MatchSettings, type Plan } from '../src/core/identity/match/cluster.js';
import { blockingKeys } from '../src/core/identity/match/blocking.js';
import { rankCandidates, type Filing } from '../src/core/identity/match/rank.js';
import { matchableFeatures, type MatchFeatures } from '../src/core/identity/match/features.js';
import type { Identifier } from '../src/core/identity/normalize.js';
import { HOLDERS_PER_IDENTIFIER } from '../src/core/store/profile.store.js';

export type ReplayRecord = { traits: Record<string, string>; ids: Identifier[] };

type Stored = { key: string; features: MatchFeatures | null; keys: readonly string[] };

export class MemoryStore {
  private readonly records: Stored[] = [];
  private readonly profileOf: string[] = [];
  private readonly members = new Map<string, number[]>();
  private readonly created = new Map<string, number>();
  private readonly byKey = new Map<string, number[]>();
  private readonly byId = new Map<string, number[]>();
  private nextProfile = 0;
  /** Every pair proposed for review over the whole replay, as the two profiles were named then. */
  readonly proposed: [string, string][] = [];
  /** Where each merged profile went. */
  readonly mergedInto = new Map<string, string>();

  /**
   * `keep`: when given, only these blocking keys are filed (others are never read by the records to
   * come); a seeded store of 500k people then fits in memory.
   */
  constructor(
    private readonly settings: MatchSettings,
    private readonly keep: ReadonlySet<string> | null = null,
  ) {}

  get size(): number {
    return this.records.length;
  }

  profile(index: number): string {
    return this.profileOf[index] ?? '';
  }

  features(index: number): MatchFeatures | null {
    return this.records[index]?.features ?? null;
  }

  /** Files a record in a profile of its own, unmatched: as the growth benchmark's bulk seed does. */
  seed(record: ReplayRecord): void {
    const features = matchableFeatures(record.traits, record.ids, this.settings.rules.fields);
    this.file(record.ids, features, features ? blockingKeys(features) : [], this.newProfile());
  }

  /** Resolves a batch as the store does; returns the plan. */
  resolve(batch: readonly ReplayRecord[]): Plan {
    const base = this.records.length;
    const prepared = batch.map((r, i) => {
      const features = matchableFeatures(r.traits, r.ids, this.settings.rules.fields);
      return { key: `r${base + i}`, ids: r.ids, features, blockingKeys: features ? blockingKeys(features) : [], storedProfile: null };
    });
    const { candidatesPerKey, candidatesPerRecord } = this.settings;
    const keyCounts = new Map<string, number>();
    for (const r of prepared) for (const k of r.blockingKeys) keyCounts.set(k, Math.min(this.byKey.get(k)?.length ?? 0, candidatesPerKey + 1));

    // Per record, the stored records sharing the most usable keys, then the rarest ones.
    const chosen = new Set<number>();
    for (const r of prepared) {
      const filings: Filing<number>[] = [];
      for (const k of r.blockingKeys) {
        const under = this.byKey.get(k);
        if (!under || under.length > candidatesPerKey) continue;
        for (const c of under) filings.push({ id: this.records[c]?.key ?? '', block: k, filed: under.length, item: c });
      }
      for (const { item: c } of rankCandidates(filings, candidatesPerRecord)) chosen.add(c);
    }
    const known = (c: number): KnownRecord => ({ key: this.records[c]?.key ?? '', profileId: this.profile(c), features: this.features(c) });
    const candidates = new Map<string, KnownRecord[]>();
    const profiles = new Map<string, number>();
    for (const c of chosen) {
      profiles.set(this.profile(c), this.created.get(this.profile(c)) ?? 0);
      for (const k of this.records[c]?.keys ?? []) {
        if (!keyCounts.has(k) || !this.byKey.get(k)?.includes(c)) continue;
        const list = candidates.get(k);
        if (list) list.push(known(c));
        else candidates.set(k, [known(c)]);
      }
    }
    const linked = new Map<string, KnownRecord[]>();
    for (const r of prepared) {
      for (const id of r.ids) {
        const key = identifierKey(id);
        const holders = (this.byId.get(key) ?? []).slice(0, HOLDERS_PER_IDENTIFIER);
        if (holders.length === 0 || linked.has(key)) continue;
        linked.set(key, holders.map(known));
        for (const h of holders) profiles.set(this.profile(h), this.created.get(this.profile(h)) ?? 0);
      }
    }
    const plan = planBatch(prepared, { profiles, linked, candidates, keyCounts, constraints: [], blocked: new Set() }, this.settings, () => this.newProfile());
    for (const m of plan.merges) {
      const moved = this.members.get(m.merged) ?? [];
      for (const i of moved) this.profileOf[i] = m.survivor;
      this.members.set(m.survivor, [...(this.members.get(m.survivor) ?? []), ...moved]);
      this.members.delete(m.merged);
      this.mergedInto.set(m.merged, m.survivor);
    }
    for (const r of prepared) this.file(r.ids, r.features, r.blockingKeys, plan.profileOf.get(r.key) ?? this.newProfile());
    for (const pair of plan.review) this.proposed.push([pair.a, pair.b]);
    return plan;
  }

  /** The live profile a profile id leads to. */
  live(id: string): string {
    let at = id;
    for (let next = this.mergedInto.get(at); next !== undefined; next = this.mergedInto.get(at)) at = next;
    return at;
  }

  /** Record indexes of a live profile. */
  membersOf(id: string): readonly number[] {
    return this.members.get(id) ?? [];
  }

  private newProfile(): string {
    const id = `p${(this.nextProfile += 1)}`;
    this.created.set(id, this.nextProfile);
    return id;
  }

  private file(ids: readonly Identifier[], features: MatchFeatures | null, keys: readonly string[], profile: string): void {
    const index = this.records.length;
    this.records.push({ key: `r${index}`, features, keys });
    this.profileOf.push(profile);
    const list = this.members.get(profile);
    if (list) list.push(index);
    else this.members.set(profile, [index]);
    for (const k of keys) {
      if (this.keep && !this.keep.has(k)) continue;
      const under = this.byKey.get(k);
      // A key past the limit takes no more records: the store only counts it (fileBlockingKeys).
      if (!under) this.byKey.set(k, [index]);
      else if (under.length <= this.settings.candidatesPerKey) under.push(index);
    }
    for (const id of ids) {
      const key = identifierKey(id);
      const under = this.byId.get(key);
      if (under) under.push(index);
      else this.byId.set(key, [index]);
    }
  }
}
