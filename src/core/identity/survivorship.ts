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

/**
 * Chooses each trait's value among the records of one profile: the source ranked first in
 * `priority[trait]` wins; otherwise (and between equals) the most recent non-empty value.
 */
export function projectTraits(observations: TraitObservation[], priority: Readonly<Record<string, readonly string[]>>): Projection {
  type Pick = { value: unknown; rank: number; at: number; tie: number; origin: TraitSource };
  const best = new Map<string, Pick>();
  for (const o of observations) {
    for (const [name, value] of Object.entries(o.traits)) {
      if (isEmpty(value)) continue;
      const order = priority[name];
      const index = order ? order.indexOf(o.source) : -1;
      const rank = index === -1 ? Number.MAX_SAFE_INTEGER : index;
      const candidate: Pick = {
        value,
        rank,
        // As instants: "13:00+03:00" is before "11:00Z", and "10:00:00Z" before "10:00:00.5Z".
        at: Date.parse(o.occurredAt),
        tie: Date.parse(o.receivedAt),
        origin: { source: o.source, sourceId: o.sourceId, observedAt: o.occurredAt },
      };
      const current = best.get(name);
      if (!current || isBetter(candidate, current)) best.set(name, candidate);
    }
  }
  const traits: Record<string, unknown> = {};
  const traitSources: Record<string, TraitSource> = {};
  for (const [name, pick] of [...best.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    traits[name] = pick.value;
    traitSources[name] = pick.origin;
  }
  return { traits, traitSources };
}

function isBetter(a: { rank: number; at: number; tie: number }, b: { rank: number; at: number; tie: number }): boolean {
  if (a.rank !== b.rank) return a.rank < b.rank;
  if (a.at !== b.at) return a.at > b.at;
  return a.tie > b.tie;
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
