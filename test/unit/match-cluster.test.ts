import { describe, expect, it } from 'vitest';
import { identifierKey, planBatch, type BatchRecord, type KnownRecord, type MatchSettings, type StoreView } from '../../src/core/identity/match/cluster.js';
import { blockingKeys } from '../../src/core/identity/match/blocking.js';
import { matchableFeatures } from '../../src/core/identity/match/features.js';
import { parseConfig } from '../../src/core/config/load-config.js';
import { resolveOptions } from '../../src/core/identity/resolve-options.js';
import type { Identifier } from '../../src/core/identity/normalize.js';

const OPTIONS = resolveOptions(parseConfig({}, {}).identity);
const SETTINGS: MatchSettings = OPTIONS.matching;
const FIELDS = SETTINGS.rules.fields;

const email = (value: string): Identifier => ({ type: 'email', value });
const phone = (value: string): Identifier => ({ type: 'phone', value });

type Traits = Record<string, unknown>;

function record(key: string, traits: Traits, ids: Identifier[] = [], storedProfile: string | null = null): BatchRecord {
  const features = matchableFeatures(traits, ids, FIELDS);
  return { key, ids, features, blockingKeys: features ? blockingKeys(features) : [], storedProfile };
}

type Stored = { profile: string; created: number; key: string; traits: Traits; ids?: Identifier[] };

/** What the store would show around a batch: every stored record under its identifiers and blocking keys. */
function view(stored: Stored[], constraints: [string, string][] = []): StoreView {
  const profiles = new Map<string, number>();
  const linked = new Map<string, KnownRecord[]>();
  const candidates = new Map<string, KnownRecord[]>();
  const put = (map: Map<string, KnownRecord[]>, key: string, known: KnownRecord) => map.set(key, [...(map.get(key) ?? []), known]);
  for (const s of stored) {
    profiles.set(s.profile, s.created);
    const features = matchableFeatures(s.traits, s.ids ?? [], FIELDS);
    const known = { key: s.key, profileId: s.profile, features };
    for (const id of s.ids ?? []) put(linked, identifierKey(id), known);
    for (const block of features ? blockingKeys(features) : []) put(candidates, block, known);
  }
  const keyCounts = new Map([...candidates].map(([key, list]) => [key, list.length]));
  return { profiles, linked, candidates, keyCounts, constraints, blocked: OPTIONS.blocked };
}

function ids() {
  let n = 0;
  return () => `new-${++n}`;
}

const PYOTR = { firstName: 'Pyotr', lastName: 'Shchukin', birthDate: '1980-02-03', city: 'Moscow' };
const PYOTR_RU = { firstName: 'Пётр', lastName: 'Щукин', birthDate: '03.02.1980', city: 'Москва' };

describe('planBatch: identifiers', () => {
  it('a record joins the profile holding its phone', () => {
    const plan = planBatch([record('r1', { firstName: 'Ivan' }, [phone('+79161234567')])], view([{ profile: 'P1', created: 1, key: 's1', traits: {}, ids: [phone('+79161234567')] }]), SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('P1');
    expect(plan.linkOf.get('r1')).toEqual({ reason: 'shared phone', score: null });
    expect(plan.newProfiles).toEqual([]);
    expect(plan.merges).toEqual([]);
  });

  it('a blocklisted identifier never links, neither to the store nor within the batch', () => {
    expect(OPTIONS.blocked.has(identifierKey(email('test@test.com')))).toBe(true);
    const stored = view([{ profile: 'P1', created: 1, key: 's1', traits: { firstName: 'Anna' }, ids: [email('test@test.com'), phone('+79999999999')] }]);
    const plan = planBatch(
      [record('r1', { firstName: 'Boris' }, [email('test@test.com')]), record('r2', { firstName: 'Vera' }, [email('test@test.com'), phone('+79999999999')])],
      stored,
      SETTINGS,
      ids(),
    );
    expect(plan.profileOf.get('r1')).toBe('new-1');
    expect(plan.profileOf.get('r2')).toBe('new-2');
    expect(plan.newProfiles).toEqual(['new-1', 'new-2']);
    expect(plan.merges).toEqual([]);
    expect(plan.linkOf.size).toBe(0);
    expect(plan.shared).toEqual([]);
  });

  it('an identifier held by more than maxProfilesPerIdentifier profiles stops linking and is reported', () => {
    expect(SETTINGS.maxProfilesPerIdentifier).toBe(3);
    const office = phone('+74951234567');
    const holders = ['P1', 'P2', 'P3', 'P4'].map((profile, i) => ({ profile, created: i + 1, key: `s${i}`, traits: {}, ids: [office] }));
    const plan = planBatch([record('r1', { firstName: 'Olga' }, [office])], view(holders), SETTINGS, ids());
    expect(plan.shared).toEqual([{ type: 'phone', value: '+74951234567', profiles: 4 }]);
    expect(plan.profileOf.get('r1')).toBe('new-1');
    expect(plan.merges).toEqual([]);
  });

  it('at maxProfilesPerIdentifier profiles the identifier still links (and joins them)', () => {
    const office = phone('+74951234567');
    const holders = ['P1', 'P2', 'P3'].map((profile, i) => ({ profile, created: i + 1, key: `s${i}`, traits: {}, ids: [office] }));
    const plan = planBatch([record('r1', {}, [office])], view(holders), SETTINGS, ids());
    expect(plan.shared).toEqual([]);
    expect(plan.profileOf.get('r1')).toBe('P1');
    expect(plan.merges.map((m) => [m.survivor, m.merged])).toEqual([
      ['P1', 'P2'],
      ['P1', 'P3'],
    ]);
  });

  it('a shared email does not link records whose traits conflict', () => {
    // A family mailbox: the father in the store, the daughter in the batch.
    const family = email('petrovy@mail.ru');
    const stored = view([{ profile: 'P1', created: 1, key: 's1', traits: { firstName: 'Иван', lastName: 'Петров', birthDate: '1962-04-12', sex: 'male' }, ids: [family] }]);
    const daughter = record('r1', { firstName: 'Мария', lastName: 'Петрова', birthDate: '1991-09-30', sex: 'female' }, [family]);
    const plan = planBatch([daughter], stored, SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('new-1');
    expect(plan.merges).toEqual([]);
  });

  it('the same shared email links records whose traits do not conflict', () => {
    const mailbox = email('i.petrov@mail.ru');
    const stored = view([{ profile: 'P1', created: 1, key: 's1', traits: { firstName: 'Иван', lastName: 'Петров', birthDate: '1962-04-12' }, ids: [mailbox] }]);
    const plan = planBatch([record('r1', { firstName: 'Ivan', lastName: 'Petrov' }, [mailbox])], stored, SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('P1');
    expect(plan.linkOf.get('r1')).toEqual({ reason: 'shared email', score: null });
  });

  it('a split or dismissed pair never merges, even when a record links both', () => {
    const stored: Stored[] = [
      { profile: 'P1', created: 1, key: 's1', traits: {}, ids: [email('ivan@mail.ru')] },
      { profile: 'P2', created: 2, key: 's2', traits: {}, ids: [phone('+79161234567')] },
    ];
    const batch = [record('r1', {}, [email('ivan@mail.ru'), phone('+79161234567')])];
    const constrained = planBatch(batch, view(stored, [['P2', 'P1']]), SETTINGS, ids());
    expect(constrained.merges).toEqual([]);
    expect(constrained.profileOf.get('r1')).toBe('P1');
    // Without the constraint the same batch merges them: the guard is what keeps them apart.
    const free = planBatch(batch, view(stored), SETTINGS, ids());
    expect(free.merges).toEqual([{ survivor: 'P1', merged: 'P2', reason: 'shared email; shared phone', score: null }]);
  });

  it('a re-sent record stays in its stored profile', () => {
    const plan = planBatch([record('r1', { firstName: 'Ivan' }, [], 'P7')], view([{ profile: 'P7', created: 1, key: 'r1', traits: { firstName: 'Ivan' } }]), SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('P7');
    expect(plan.newProfiles).toEqual([]);
  });
});

describe('planBatch: matching', () => {
  it('a match at or above autoMerge joins the stored profile with the score as reason', () => {
    const plan = planBatch([record('r1', PYOTR_RU)], view([{ profile: 'P1', created: 1, key: 's1', traits: PYOTR }]), SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('P1');
    // firstName close 3 + lastName exact 8 + birthDate exact 12 + city (moskva/moscow) diff -3
    expect(plan.linkOf.get('r1')).toEqual({ reason: 'match firstName close, lastName exact, birthDate exact, city diff', score: 19 });
    expect(plan.review).toEqual([]);
  });

  it('a match merges two profiles; the oldest survives and the reason names the match and its score', () => {
    const stored = view([
      { profile: 'P-new', created: 2000, key: 's2', traits: { firstName: 'Пётр', lastName: 'Щукин' }, ids: [email('shchukin@mail.ru')] },
      { profile: 'P-old', created: 1000, key: 's1', traits: PYOTR },
    ]);
    const plan = planBatch([record('r1', PYOTR_RU, [email('shchukin@mail.ru')])], stored, SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('P-old');
    expect(plan.merges).toHaveLength(1);
    const [merge] = plan.merges;
    expect(merge?.survivor).toBe('P-old');
    expect(merge?.merged).toBe('P-new');
    expect(merge?.score).toBe(19);
    expect(merge?.reason).toContain('match');
    expect(merge?.reason).toContain('shared email');
  });

  it('namesakes without an identifying trait never auto-merge: they go to review below autoMerge', () => {
    const john = { firstName: 'John', lastName: 'Smith', city: 'Boston', jobTitle: 'Engineer' };
    const plan = planBatch([record('r1', john)], view([{ profile: 'P1', created: 1, key: 's1', traits: john }]), SETTINGS, ids());
    // 6 + 8 + 5 + 4 = 23 without a birth date, address or id: held just below autoMerge.
    expect(plan.profileOf.get('r1')).toBe('new-1');
    expect(plan.merges).toEqual([]);
    expect(plan.review).toEqual([{ a: 'P1', b: 'new-1', score: SETTINGS.autoMerge - 0.01, reasons: ['firstName exact', 'lastName exact', 'city exact', 'jobTitle exact'] }]);
  });

  it('too few agreements never auto-merge, even with an identifying trait', () => {
    // Same last name and birth date only: two agreements where three are needed.
    const plan = planBatch([record('r1', { lastName: 'Иванова', birthDate: '1985-03-08' })], view([{ profile: 'P1', created: 1, key: 's1', traits: { lastName: 'Ivanova', birthDate: '1985-03-08' } }]), SETTINGS, ids());
    expect(SETTINGS.minAgreements).toBe(3);
    expect(plan.profileOf.get('r1')).toBe('new-1');
    expect(plan.review).toHaveLength(1);
    expect(plan.review[0]?.score).toBe(SETTINGS.autoMerge - 0.01);
  });

  it('a score between review and autoMerge yields a review pair, no merge', () => {
    // Same person by name and employer, but born another day that year and living elsewhere now.
    const stored = view([{ profile: 'P1', created: 1, key: 's1', traits: { firstName: 'Pyotr', lastName: 'Shchukin', birthDate: '1980-02-03', postcode: '119019', state: 'Московская область', company: 'Romashka LLC' } }]);
    const batch = [record('r1', { firstName: 'Пётр', lastName: 'Щукин', birthDate: '11.09.1980', postcode: '630099', state: 'Новосибирская область', company: 'ООО «Ромашка»' })];
    const plan = planBatch(batch, stored, SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('new-1');
    expect(plan.merges).toEqual([]);
    // 3 + 8 - 3 - 3 - 3 + 4 = 6: between review (4) and autoMerge (8).
    expect(plan.review).toEqual([
      { a: 'P1', b: 'new-1', score: 5, reasons: ['firstName close', 'lastName exact', 'birthDate weak', 'postcode diff', 'state diff', 'company exact'] },
    ]);
  });

  it('a candidate scoring below review is neither merged nor proposed', () => {
    // Found through the first name and the city, but another family name and birth date: -2.
    const stored = view([{ profile: 'P1', created: 1, key: 's1', traits: { firstName: 'Ольга', lastName: 'Иванова', birthDate: '1980-02-03', city: 'Москва' } }]);
    const batch = [record('r1', { firstName: 'Olga', lastName: 'Sidorova', birthDate: '1992-10-10', city: 'Moskva' })];
    expect(batch[0]?.blockingKeys).toContain('nc:ALK:moskva');
    const plan = planBatch(batch, stored, SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('new-1');
    expect(plan.merges).toEqual([]);
    expect(plan.review).toEqual([]);
  });

  it('proposes at most reviewPairsPerRecord review pairs for a record', () => {
    expect(SETTINGS.reviewPairsPerRecord).toBe(3);
    const namesakes: Stored[] = ['P1', 'P2', 'P3', 'P4', 'P5'].map((profile, i) => ({ profile, created: i, key: `s${i}`, traits: { firstName: 'Ivan', lastName: 'Petrov', city: 'Moskva' } }));
    const plan = planBatch([record('r1', { firstName: 'Иван', lastName: 'Петров', city: 'Москва' })], view(namesakes), SETTINGS, ids());
    expect(plan.review).toHaveLength(3);
    for (const pair of plan.review) expect(pair.b).toBe('new-1');
    expect(plan.merges).toEqual([]);
  });

  it('records within one batch match each other', () => {
    const plan = planBatch([record('bitrix:1', PYOTR), record('1c:000123', PYOTR_RU)], view([]), SETTINGS, ids());
    expect(plan.newProfiles).toEqual(['new-1']);
    expect(plan.profileOf.get('bitrix:1')).toBe('new-1');
    expect(plan.profileOf.get('1c:000123')).toBe('new-1');
    expect(plan.linkOf.get('1c:000123')).toEqual({ reason: 'match firstName close, lastName exact, birthDate exact, city diff', score: 19 });
  });

  it('records within one batch sharing an email join; different people in one batch stay apart', () => {
    const plan = planBatch(
      [
        record('a', { firstName: 'Mary', lastName: 'Jones' }, [email('mary.jones@gmail.com')]),
        record('b', {}, [email('mary.jones@gmail.com'), phone('+14155552671')]),
        record('c', { firstName: 'Robert', lastName: 'Brown', birthDate: '1970-01-01' }),
      ],
      view([]),
      SETTINGS,
      ids(),
    );
    expect(plan.profileOf.get('a')).toBe('new-1');
    expect(plan.profileOf.get('b')).toBe('new-1');
    expect(plan.profileOf.get('c')).toBe('new-2');
    expect(plan.linkOf.get('b')).toEqual({ reason: 'shared email', score: null });
  });

  it('matching disabled: only identifiers join', () => {
    const plan = planBatch([record('r1', PYOTR_RU)], view([{ profile: 'P1', created: 1, key: 's1', traits: PYOTR }]), { ...SETTINGS, enabled: false }, ids());
    expect(plan.profileOf.get('r1')).toBe('new-1');
    expect(plan.review).toEqual([]);
  });
});

describe('planBatch: candidates', () => {
  const PETR = { firstName: 'Пётр', lastName: 'Щукин', birthDate: '03.02.1980', city: 'Москва' };
  // Shares only the birth date and the city with Pyotr (the dc: key): a candidate, not a match.
  const NEIGHBOUR = { firstName: 'Анна', lastName: 'Орлова', birthDate: '1980-02-03', city: 'Москва' };

  it('scores at most candidatesPerRecord records, those sharing the most keys first', () => {
    const stored = view([
      { profile: 'P-neighbour', created: 1, key: 'a-neighbour', traits: NEIGHBOUR },
      { profile: 'P-pyotr', created: 2, key: 'z-pyotr', traits: PYOTR },
    ]);
    const one = { ...SETTINGS, candidatesPerRecord: 1 };
    // The neighbour sorts first by key, but Pyotr shares more keys with the record: he is the one scored.
    expect(planBatch([record('r1', PETR)], stored, one, ids()).profileOf.get('r1')).toBe('P-pyotr');
  });

  it('a key filed under more than candidatesPerKey records finds no candidates', () => {
    const stored = view([{ profile: 'P1', created: 1, key: 's1', traits: PYOTR }]);
    const crowded = { ...stored, keyCounts: new Map([...stored.keyCounts.keys()].map((key) => [key, SETTINGS.candidatesPerKey + 1])) };
    expect(planBatch([record('r1', PETR)], stored, SETTINGS, ids()).profileOf.get('r1')).toBe('P1');
    expect(planBatch([record('r1', PETR)], crowded, SETTINGS, ids()).profileOf.get('r1')).toBe('new-1');
  });

  it('records earlier in the batch count toward a key being too common', () => {
    const few = { ...SETTINGS, candidatesPerKey: 2 };
    const batch = ['r1', 'r2', 'r3', 'r4'].map((key) => record(key, key === 'r4' ? PETR : PYOTR));
    // r1 starts a profile, r2 and r3 join it; r4 comes after three records under each key: it starts its own.
    const plan = planBatch(batch, view([]), few, ids());
    expect(new Set(['r1', 'r2', 'r3'].map((k) => plan.profileOf.get(k))).size).toBe(1);
    expect(plan.profileOf.get('r4')).not.toBe(plan.profileOf.get('r1'));
    const roomy = planBatch(batch, view([]), SETTINGS, ids());
    expect(roomy.profileOf.get('r4')).toBe(roomy.profileOf.get('r1'));
  });
});

describe('planBatch: namesakes in a large store', () => {
  // Born the same year as the stored Ivan Petrov of Moscow, another day: name and city agree.
  const IVAN = { firstName: 'Иван', lastName: 'Петров', birthDate: '12.05.1980', city: 'Москва' };
  const IVAN_STORED = { firstName: 'Ivan', lastName: 'Petrov', birthDate: '1980-07-01', city: 'Moskva' };

  /** The view with every key it holds counted as filed under `n` records, most of them unread. */
  const crowded = (v: StoreView, n: number): StoreView => ({ ...v, keyCounts: new Map([...v.keyCounts.keys()].map((key) => [key, n])) });

  it('the auto-merge bar rises with the records crowding the rarest key a pair shares', () => {
    const stored = view([{ profile: 'P1', created: 1, key: 's1', traits: IVAN_STORED }]);
    // 6 + 8 - 3 (same year) + 5 = 16: alone in the store, he is the one.
    expect(planBatch([record('r1', IVAN)], stored, SETTINGS, ids()).profileOf.get('r1')).toBe('P1');
    // Five records filed under each key the pair shares (Ivan Petrov, Moscow, 1980): 8 + 4 × log2(5) ≈ 17.3
    // is needed to merge, 4 + 4 × log2(5) ≈ 13.3 to ask a person.
    expect(SETTINGS.crowding).toBe(4);
    const plan = planBatch([record('r1', IVAN)], crowded(stored, 5), SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('new-1');
    expect(plan.merges).toEqual([]);
    expect(plan.review).toEqual([{ a: 'P1', b: 'new-1', score: SETTINGS.autoMerge - 0.01, reasons: ['firstName exact', 'lastName exact', 'birthDate weak', 'city exact'] }]);
    // Twelve: 4 + 4 × log2(12) ≈ 18.3 to ask; a name, a town and a year shared by a dozen people are no question.
    const crowd = planBatch([record('r1', IVAN)], crowded(stored, 12), SETTINGS, ids());
    expect(crowd.profileOf.get('r1')).toBe('new-1');
    expect(crowd.merges).toEqual([]);
    expect(crowd.review).toEqual([]);
    // Off: the crowd changes nothing.
    expect(planBatch([record('r1', IVAN)], crowded(stored, 12), { ...SETTINGS, crowding: 0 }, ids()).profileOf.get('r1')).toBe('P1');
  });

  it('a pair sharing one rare key is not held back by the crowded ones', () => {
    // The exact birth date and the city (key dc:) are theirs alone; the name keys are crowded.
    const stored = view([{ profile: 'P1', created: 1, key: 's1', traits: { ...IVAN_STORED, birthDate: '1980-05-12' } }]);
    const counts = new Map([...stored.keyCounts.keys()].map((key) => [key, key.startsWith('dc:') ? 1 : 15]));
    expect(planBatch([record('r1', IVAN)], { ...stored, keyCounts: counts }, SETTINGS, ids()).profileOf.get('r1')).toBe('P1');
  });

  it("a person's own earlier records are no rivals; records of others count even unread", () => {
    const own: Stored[] = ['s1', 's2', 's3'].map((key) => ({ profile: 'P1', created: 1, key, traits: IVAN_STORED }));
    // Three records filed under each key, all of P1: nobody else is there.
    expect(planBatch([record('r1', IVAN)], view(own), SETTINGS, ids()).profileOf.get('r1')).toBe('P1');
    // Eight filed, three read and all of P1: five other people share them (8 + 4 × log2(6) ≈ 18.3 > 16).
    expect(planBatch([record('r1', IVAN)], crowded(view(own), 8), SETTINGS, ids()).profileOf.get('r1')).toBe('new-1');
  });

  it('no auto-merge when more fields differ than agree: a namesake born the same day who lives elsewhere', () => {
    const stored = view([
      {
        profile: 'P1',
        created: 1,
        key: 's1',
        traits: { firstName: 'Maria', lastName: 'Ivanova', birthDate: '1985-03-08', city: 'Moskva', postcode: '101000', address: 'ul. Tverskaya, 7' },
        ids: [email('ivanova.m@yandex.ru')],
      },
    ]);
    const maria = record('r1', { firstName: 'Мария', lastName: 'Иванова', birthDate: '08.03.1985', city: 'Казань', postcode: '420111', address: 'ул. Баумана, 44' }, [email('masha85@mail.ru')]);
    const plan = planBatch([maria], stored, SETTINGS, ids());
    // 3 (Mariya, Maria) + 8 + 12 - 1 - 4 - 4 - 5 = 9 clears autoMerge, but three agree and four differ: review.
    expect(plan.profileOf.get('r1')).toBe('new-1');
    expect(plan.merges).toEqual([]);
    expect(plan.review).toHaveLength(1);
    expect(plan.review[0]?.reasons).toEqual(['firstName close', 'lastName exact', 'email diff', 'birthDate exact', 'postcode diff', 'city diff', 'address diff']);
  });

  it('a record matching two profiles that look like two people joins its best match only', () => {
    const olga = { firstName: 'Ольга', lastName: 'Смирнова', birthDate: '1975-04-02' };
    const stored = view([
      { profile: 'P-kazan', created: 1, key: 's1', traits: { ...olga, city: 'Казань', postcode: '420111', address: 'ул. Баумана, 5' }, ids: [email('olga.s@mail.ru')] },
      { profile: 'P-samara', created: 2, key: 's2', traits: { ...olga, city: 'Самара', postcode: '443001', address: 'ул. Ленинградская, 40' }, ids: [email('smirnova75@yandex.ru')] },
    ]);
    // Name, birth date and Kazan: 31 with the first, 22 with the second (a namesake born that day in Samara).
    const plan = planBatch([record('r1', { firstName: 'Olga', lastName: 'Smirnova', birthDate: '02.04.1975', city: 'Kazan' })], stored, SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('P-kazan');
    expect(plan.merges).toEqual([]);
    expect(plan.review).toEqual([{ a: 'P-kazan', b: 'P-samara', score: SETTINGS.autoMerge - 0.01, reasons: ['firstName exact', 'lastName exact', 'birthDate exact', 'city diff'] }]);
  });

  it('nor does a record joined to the first by its email', () => {
    const olga = { firstName: 'Ольга', lastName: 'Смирнова', birthDate: '1975-04-02' };
    const stored = view([
      { profile: 'P-kazan', created: 1, key: 's1', traits: { ...olga, city: 'Казань', postcode: '420111', address: 'ул. Баумана, 5' }, ids: [email('olga.s@mail.ru')] },
      { profile: 'P-samara', created: 2, key: 's2', traits: { ...olga, city: 'Самара', postcode: '443001', address: 'ул. Ленинградская, 40' }, ids: [email('smirnova75@yandex.ru')] },
    ]);
    const plan = planBatch([record('r1', { firstName: 'Olga', lastName: 'Smirnova', birthDate: '02.04.1975', city: 'Kazan' }, [email('olga.s@mail.ru')])], stored, SETTINGS, ids());
    expect(plan.profileOf.get('r1')).toBe('P-kazan');
    expect(plan.linkOf.get('r1')).toEqual({ reason: 'shared email', score: null });
    expect(plan.merges).toEqual([]);
  });

  it('nor does a record joined by its email to a profile it did not score', () => {
    const stored = view([
      // No birth date, no town: it shares fewer keys with the record than the namesake does, and is not scored.
      { profile: 'P-kazan', created: 1, key: 's1', traits: { firstName: 'Ольга', lastName: 'Смирнова', postcode: '420111', address: 'ул. Баумана, 5' }, ids: [email('olga.s@mail.ru')] },
      { profile: 'P-samara', created: 2, key: 's2', traits: { firstName: 'Ольга', lastName: 'Смирнова', birthDate: '1975-04-02', city: 'Самара', postcode: '443001', address: 'ул. Ленинградская, 40' }, ids: [email('smirnova75@yandex.ru')] },
    ]);
    const one = { ...SETTINGS, candidatesPerRecord: 1 };
    const plan = planBatch([record('r1', { firstName: 'Olga', lastName: 'Smirnova', birthDate: '02.04.1975', city: 'Kazan' }, [email('olga.s@mail.ru')])], stored, one, ids());
    expect(plan.profileOf.get('r1')).toBe('P-kazan');
    expect(plan.merges).toEqual([]);
    expect(plan.review.map((p) => [p.a, p.b])).toEqual([['P-kazan', 'P-samara']]);
  });
});
