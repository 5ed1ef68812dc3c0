export type TraitObservation = {
  source: string;
  sourceId: string;
  traits: Record<string, unknown>;
  occurredAt: string;
  receivedAt: string;
};

export type TraitSource = { source: string; sourceId: string; observedAt: string };

export type Projection = {
  traits: Record<string, unknown>;
  traitSources: Record<string, TraitSource>;
};

function isEmpty(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (Array.isArray(value)) return value.length === 0;
  return false;
}

type Pick = { value: unknown; rank: number; at: number; tie: number; origin: TraitSource };

function rankOf(priority: Readonly<Record<string, readonly string[]>>, trait: string, source: string): number {
  const index = priority[trait]?.indexOf(source) ?? -1;
  return index === -1 ? Number.MAX_SAFE_INTEGER : index;
}

/** Each trait's best non-empty value among the observations. */
function bestPicks(observations: readonly TraitObservation[], priority: Readonly<Record<string, readonly string[]>>): Map<string, Pick> {
  const best = new Map<string, Pick>();
  for (const o of observations) {
    for (const [name, value] of Object.entries(o.traits)) {
      if (isEmpty(value)) continue;
      const candidate: Pick = {
        value,
        rank: rankOf(priority, name, o.source),
        // As instants: "13:00+03:00" is before "11:00Z", and "10:00:00Z" before "10:00:00.5Z".
        at: Date.parse(o.occurredAt),
        tie: Date.parse(o.receivedAt),
        origin: { source: o.source, sourceId: o.sourceId, observedAt: o.occurredAt },
      };
      const current = best.get(name);
      if (!current || isBetter(candidate, current)) best.set(name, candidate);
    }
  }
  return best;
}

function asProjection(best: ReadonlyMap<string, { value: unknown; origin: TraitSource }>): Projection {
  const traits: Record<string, unknown> = {};
  const traitSources: Record<string, TraitSource> = {};
  // In no particular order: PostgreSQL stores them as jsonb, which orders keys its own way.
  for (const [name, pick] of best) {
    traits[name] = pick.value;
    traitSources[name] = pick.origin;
  }
  return { traits, traitSources };
}

/**
 * Chooses each trait's value among the records of one profile: the source ranked first in
 * `priority[trait]` wins; otherwise (and between equals) the most recent non-empty value.
 */
export function projectTraits(observations: TraitObservation[], priority: Readonly<Record<string, readonly string[]>>): Projection {
  return asProjection(bestPicks(observations, priority));
}

/**
 * The projection of records already projected in parts (a profile's, and those of the profiles
 * merged into it) and of new ones, from the parts' projections and the new records alone: the best
 * of a union is the best of the parts' bests. Null where that cannot be told: two values as recent
 * as each other from sources ranked the same (a tie that the values' receipt times, not in a
 * projection, would break), or a value without its origin.
 */
export function extendProjection(parts: readonly Projection[], added: TraitObservation[], priority: Readonly<Record<string, readonly string[]>>): Projection | null {
  type Held = { value: unknown; origin: TraitSource; rank: number; at: number };
  const best = new Map<string, Held>();
  const offer = (name: string, candidate: Held): boolean => {
    const held = best.get(name);
    const order = held ? precedence(candidate, held) : 1;
    if (order === 0) return false;
    if (order > 0) best.set(name, candidate);
    return true;
  };
  for (const part of parts) {
    for (const [name, value] of Object.entries(part.traits)) {
      const origin = part.traitSources[name];
      if (!origin || !offer(name, { value, origin, rank: rankOf(priority, name, origin.source), at: Date.parse(origin.observedAt) })) return null;
    }
  }
  for (const [name, pick] of bestPicks(added, priority)) if (!offer(name, pick)) return null;
  return asProjection(best);
}

/** Above zero when a comes before b by rank, then by time; zero when both are equal. */
function precedence(a: { rank: number; at: number }, b: { rank: number; at: number }): number {
  return a.rank !== b.rank ? b.rank - a.rank : a.at - b.at;
}

function isBetter(a: { rank: number; at: number; tie: number }, b: { rank: number; at: number; tie: number }): boolean {
  const order = precedence(a, b);
  return order !== 0 ? order > 0 : a.tie > b.tie;
}

/** Lowercased names and company, the text that `?q=` searches. */
export function searchText(traits: Record<string, unknown>): string {
  return ['firstName', 'lastName', 'middleName', 'fullName', 'company']
    .map((k) => traits[k])
    .filter((v): v is string => typeof v === 'string' && v.trim() !== '')
    .join(' ')
    .normalize('NFKC')
    .toLowerCase();
}
