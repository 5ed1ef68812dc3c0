// Replays the labelled datasets of ../shared/data through the matcher in memory, in arrival order
// and in batches, through the real planBatch over an in-memory store that files and picks candidates
// as profile.store.ts does (match-replay.ts), and prints pairwise precision/recall/F1 in seconds:
// the loop for tuning weights, whose figures predict `npm run bench:match`.
// Options: --only=febrl3,synthetic --explain=N (wrong merges and misses) --auto= --review= --agree=
// --conflict= --crowding= --per-record= (override the matching config) --batch=100 --people=50000 --records=10000
// (synthetic: --people=500000 --records=5000 is `bench:match --growth`'s large store; give node
// --max-old-space-size=8000).
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { scorePair } from '../src/core/identity/match/compare.js';
import { blockingKeys } from '../src/core/identity/match/blocking.js';
import { matchableFeatures, type MatchFeatures } from '../src/core/identity/match/features.js';
import type { MatchSettings } from '../src/core/identity/match/cluster.js';
import { parseConfig } from '../src/core/config/load-config.js';
import { resolveOptions } from '../src/core/identity/resolve-options.js';
import { generateRecords } from '../bench/data.js';
import { cleanRecord, messyRecords } from '../bench/match/people.js';
import { normalizeEmail, normalizePhone, type Identifier } from '../src/core/identity/normalize.js';
import { MemoryStore, type ReplayRecord } from './match-replay.js';

/** `seeded`: filed unmatched in a profile of its own, as the growth benchmark's bulk seed does. */
type Row = { traits: Record<string, string>; emails: string[]; phones: string[]; truth: string; seeded?: boolean };
const DATA = new URL('../../shared/data/', import.meta.url);

function read(path: string, delimiter = ','): Record<string, string>[] {
  const rows = parse(readFileSync(new URL(path, DATA)), { columns: (h: string[]) => h.map((c) => c.trim()), delimiter, trim: true, skip_empty_lines: true }) as Record<string, string>[];
  return rows;
}
const clean = (o: Record<string, string | undefined>) => Object.fromEntries(Object.entries(o).filter((e): e is [string, string] => !!e[1]));
function febrl(path: string): Row[] {
  return read(path).map((r) => ({
    traits: clean({ firstName: r['given_name'], lastName: r['surname'], address: [r['street_number'], r['address_1']].filter(Boolean).join(' '), address2: r['address_2'], city: r['suburb'], postcode: r['postcode'], state: r['state'], birthDate: r['date_of_birth'], nationalId: r['soc_sec_id'] }),
    emails: [],
    phones: [],
    truth: (r['rec_id'] ?? '').split('-')[1] ?? '',
  }));
}
const DATASETS: Record<string, () => Row[]> = {
  febrl3: () => febrl('febrl/dataset3.csv'),
  febrl4: () => [...febrl('febrl/dataset4a.csv'), ...febrl('febrl/dataset4b.csv')],
  fake1000: () =>
    read('splink/fake_1000.csv').map((r) => ({ traits: clean({ firstName: r['first_name'], lastName: r['surname'], birthDate: r['dob'], city: r['city'] }), emails: r['email'] ? [r['email']] : [], phones: [], truth: r['cluster'] ?? '' })),
  personaldata: () =>
    ['personaldata/personaldata1000A.csv', 'personaldata/personaldata1000B.csv'].flatMap((p, f) =>
      read(p, ';').map((r, i) => ({
        traits: clean({ firstName: r['first_name'], lastName: r['last_name'], birthDate: r['birthdate'], city: r['city'], jobTitle: r['job'], postcode: r['postcode'], sex: r['sex'], address: r['street_address'] }),
        emails: r['email'] ? [r['email']] : [],
        phones: r['phone_number'] ? [r['phone_number']] : [],
        truth: r['entity_id'] || `none-${f}-${i}`,
      })),
    ),
  // Not tuned on: what `bench:match --growth` sends. A store seeded with --people synthetic people
  // (50,000; many namesakes), then 1,000 warm-up and --records (10,000) messy records, half of them
  // of people 0..4999, half strangers; precision here is precision at scale (--people=500000 is the
  // benchmark's large store).
  synthetic: () => {
    const asRow = (r: ReturnType<typeof cleanRecord>, truth: string, seeded = false): Row => ({
      traits: Object.fromEntries(Object.entries(r.traits ?? {}).map(([k, v]) => [k, String(v)])),
      emails: r.identifiers?.emails ?? [],
      phones: [],
      truth,
      seeded,
    });
    const people = Number(arg('people') ?? 50_000);
    // The bulk seed keeps, under a key past the limit, the records first in (source, sourceId) order.
    const order = Array.from({ length: people }, (_, k) => String(k)).sort();
    const seeded = order.map((k) => asRow(cleanRecord('seed', Number(k)), k, true));
    const messy = [...messyRecords('warmup', 1000, GROWTH_SMALL, 99), ...messyRecords('growth-1', Number(arg('records') ?? 10_000), GROWTH_SMALL, 7)];
    return [...seeded, ...messy.map(({ record, person }) => asRow(record, String(person)))];
  },
  // Not tuned on: the benchmark's Russian customers (256 name pairs shared by many people, Cyrillic and
  // Latin spellings, emails and phones written differently); the person is in the sourceId.
  generated: () =>
    generateRecords({ count: 20_000, tag: 'g', seed: 7 }).map((r) => ({
      traits: Object.fromEntries(Object.entries(r.traits ?? {}).map(([k, v]) => [k, String(v)])),
      emails: r.identifiers?.emails ?? [],
      phones: r.identifiers?.phones ?? [],
      truth: r.sourceId.split('-')[1] ?? '',
    })),
};

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
/** The people messy records are made of in the growth benchmark (its --growth-small). */
const GROWTH_SMALL = 5000;
const BATCH = Number(arg('batch') ?? 100);

function identifiers(row: Row): Identifier[] {
  return [
    ...row.emails.flatMap((e) => { const v = normalizeEmail(e); return v ? [{ type: 'email' as const, value: v }] : []; }),
    ...row.phones.flatMap((p) => { const v = normalizePhone(p, 'RU'); return v ? [{ type: 'phone' as const, value: v }] : []; }),
  ];
}

function run(rows: Row[], settings: MatchSettings, explain: number) {
  const records: ReplayRecord[] = rows.map((row) => ({ traits: row.traits, ids: identifiers(row) }));
  // A large seeded store files only the keys the replayed records will read (memory).
  const replayed = records.filter((_, i) => !rows[i]?.seeded);
  const keep = replayed.length < records.length ? new Set(replayed.flatMap((r) => { const f = matchableFeatures(r.traits, r.ids, settings.rules.fields); return f ? blockingKeys(f) : []; })) : null;
  const store = new MemoryStore(settings, keep);
  let batch: ReplayRecord[] = [];
  const flush = () => {
    if (batch.length > 0) store.resolve(batch);
    batch = [];
  };
  records.forEach((r, i) => {
    if (rows[i]?.seeded) store.seed(r);
    else {
      batch.push(r);
      if (batch.length >= BATCH) flush();
    }
  });
  flush();
  const profile = (i: number) => store.profile(i);
  const pairs = (m: Map<string, number>) => [...m.values()].reduce((s, n) => s + (n * (n - 1)) / 2, 0);
  const count = (key: (i: number) => string) => {
    const m = new Map<string, number>();
    rows.forEach((_, i) => m.set(key(i), (m.get(key(i)) ?? 0) + 1));
    return m;
  };
  const predicted = pairs(count(profile));
  const truth = pairs(count((i) => rows[i]?.truth ?? ''));
  const tp = pairs(count((i) => `${profile(i)}|${rows[i]?.truth}`));
  const p = predicted ? tp / predicted : 1;
  const r = truth ? tp / truth : 1;
  const features = (i: number) => store.features(i) as MatchFeatures;
  const describe = (a: number, b: number) => {
    const s = features(a) && features(b) ? scorePair(features(a), features(b), settings.rules) : null;
    return `${s?.score ?? '-'} ${JSON.stringify(rows[a]?.traits)} ${rows[a]?.emails}\n      ${JSON.stringify(rows[b]?.traits)} ${rows[b]?.emails}\n      ${s?.reasons.join(', ') ?? ''}`;
  };
  // Wrong merges: in each predicted profile, a record of another person than its first one.
  const fps: string[] = [];
  const byProfile = new Map<string, number[]>();
  rows.forEach((_, i) => byProfile.set(profile(i), [...(byProfile.get(profile(i)) ?? []), i]));
  for (const members of byProfile.values()) {
    if (fps.length >= explain) break;
    const a = members[0] ?? 0;
    const b = members.find((m) => rows[m]?.truth !== rows[a]?.truth);
    // Every member against the first: the chain that joined two people shows.
    if (b !== undefined) fps.push(members.slice(1, 6).map((m) => `[${rows[m]?.truth === rows[a]?.truth ? 'same' : 'other'}] ${describe(a, m)}`).join('\n    '));
  }
  const fns: string[] = [];
  const byTruth = new Map<string, number[]>();
  rows.forEach((row, i) => byTruth.set(row.truth, [...(byTruth.get(row.truth) ?? []), i]));
  for (const members of byTruth.values()) {
    if (fns.length >= explain) break;
    const a = members[0] ?? 0;
    for (const b of members.slice(1)) if (profile(a) !== profile(b) && fns.length < explain) fns.push(describe(a, b));
  }
  // A review pair is worth a reviewer's time when its two profiles (as they are now) hold one person.
  const truths = (id: string) => new Set(store.membersOf(store.live(id)).map((i) => rows[i]?.truth));
  const worthy = store.proposed.filter(([a, b]) => {
    const ta = truths(a);
    return store.live(a) !== store.live(b) && [...truths(b)].some((t) => ta.has(t));
  }).length;
  return { p, r, f1: (2 * p * r) / (p + r || 1), reviewPairs: store.proposed.length, worthy, fps, fns };
}

const defaults = resolveOptions(parseConfig({ identity: { defaultCountry: 'RU' } }, {}).identity).matching;
const settings: MatchSettings = {
  ...defaults,
  autoMerge: Number(arg('auto') ?? defaults.autoMerge),
  review: Number(arg('review') ?? defaults.review),
  minAgreements: Number(arg('agree') ?? defaults.minAgreements),
  conflict: Number(arg('conflict') ?? defaults.conflict),
  crowding: Number(arg('crowding') ?? defaults.crowding),
  candidatesPerRecord: Number(arg('per-record') ?? defaults.candidatesPerRecord),
};
const explain = Number(arg('explain') ?? 0);
const only = arg('only')?.split(',');
for (const [name, load] of Object.entries(DATASETS)) {
  if (only && !only.includes(name)) continue;
  const t = Date.now();
  const res = run(load(), settings, explain);
  console.log(`${name.padEnd(13)} P ${res.p.toFixed(5)} R ${res.r.toFixed(5)} F1 ${res.f1.toFixed(5)} review ${res.reviewPairs} (same person ${res.worthy}) ${Date.now() - t} ms`);
  for (const fp of res.fps) console.log('  FP', fp);
  for (const fn of res.fns) console.log('  FN', fn);
}
