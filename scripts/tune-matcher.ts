// Replays the labelled datasets of ../shared/data through the matcher in memory, in arrival order,
// as the pipeline would (blocking keys, scores, deterministic email/phone links, union of clusters),
// and prints pairwise precision/recall/F1 in seconds: the loop for tuning weights. The benchmark of
// record is `npm run bench:match`, which goes through the real pipeline and store.
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { matchFeatures, type MatchFeatures } from '../src/core/identity/match/features.js';
import { scorePair, type MatchRules } from '../src/core/identity/match/compare.js';
import { blockingKeys } from '../src/core/identity/match/blocking.js';
import { DEFAULT_RULES, DEFAULT_MATCHING } from '../src/core/identity/match/defaults.js';
import { generateRecords } from '../bench/data.js';
import { cleanRecord, messyRecords } from '../bench/match/people.js';
import { normalizeEmail, normalizePhone, type Identifier } from '../src/core/identity/normalize.js';

type Row = { traits: Record<string, string>; emails: string[]; phones: string[]; truth: string };
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
  // Not tuned on: a store of 50,000 synthetic people (many namesakes) and 10,000 messy records of
  // them and of strangers, as bench:match --growth sends; precision here is precision at scale.
  synthetic: () => {
    const asRow = (r: ReturnType<typeof cleanRecord>, truth: string): Row => ({
      traits: Object.fromEntries(Object.entries(r.traits ?? {}).map(([k, v]) => [k, String(v)])),
      emails: r.identifiers?.emails ?? [],
      phones: [],
      truth,
    });
    const clean = Array.from({ length: 50_000 }, (_, k) => asRow(cleanRecord('seed', k), String(k)));
    return [...clean, ...messyRecords('messy', 10_000, 50_000, 11).map(({ record, person }) => asRow(record, String(person)))];
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

function run(rows: Row[], rules: MatchRules, autoMerge: number, review: number, explain: number) {
  const parent = rows.map((_, i) => i);
  const find = (x: number): number => (parent[x] === x ? x : (parent[x] = find(parent[x] ?? x)));
  const byKey = new Map<string, number[]>();
  const features: MatchFeatures[] = [];
  let reviewPairs = 0;
  const fps: string[] = [];
  rows.forEach((row, i) => {
    const ids: Identifier[] = [
      ...row.emails.flatMap((e) => { const v = normalizeEmail(e); return v ? [{ type: 'email' as const, value: v }] : []; }),
      ...row.phones.flatMap((p) => { const v = normalizePhone(p, 'RU'); return v ? [{ type: 'phone' as const, value: v }] : []; }),
    ];
    const f = matchFeatures(row.traits, ids, rules.fields);
    features.push(f);
    const candidates = new Set<number>();
    const keys = [...blockingKeys(f), ...ids.map((id) => `id:${id.type}:${id.value}`)];
    for (const k of blockingKeys(f)) {
      const filed = byKey.get(k) ?? [];
      // A key shared by many records tells nothing: skipped, as the store does.
      if (filed.length <= KEY_LIMIT) for (const c of filed) candidates.add(c);
    }
    const best = new Map<number, { score: number; c: number }>();
    for (const c of candidates) {
      const scored = scorePair(f, features[c] as MatchFeatures, rules);
      const s = scored.agreements >= MIN_AGREE && scored.identifyingCompared >= 1 && !scored.vetoed ? scored.score : Math.min(scored.score, autoMerge - 0.01);
      const root = find(c);
      if ((best.get(root)?.score ?? -Infinity) < s) best.set(root, { score: s, c });
    }
    // Deterministic links: a shared email or phone joins, as in the pipeline.
    for (const id of ids) {
      for (const c of byKey.get(`id:${id.type}:${id.value}`) ?? []) {
        const other = features[c] as MatchFeatures;
        const traitsOnly = scorePair({ ...f, emails: [], phones: [] }, { ...other, emails: [], phones: [] }, rules).score;
        if (traitsOnly > CONFLICT) best.set(find(c), { score: Infinity, c });
      }
    }
    let reviewed = 0;
    for (const [root, { score, c }] of [...best].sort((x, y) => y[1].score - x[1].score)) {
      if (score >= autoMerge) {
        if (rows[c]?.truth !== row.truth && fps.length < explain) fps.push(`${score} ${JSON.stringify(rows[c])}\n      ${JSON.stringify(row)}\n      ${scorePair(f, features[c] as MatchFeatures, rules).reasons.join(', ')}`);
        parent[find(i)] = find(root);
      } else if (score >= review && reviewed < 3) {
        reviewPairs += 1;
        reviewed += 1;
      }
    }
    for (const k of keys) {
      const filed = byKey.get(k);
      if (filed) filed.push(i);
      else byKey.set(k, [i]);
    }
  });
  const pairs = (m: Map<string, number>) => [...m.values()].reduce((s, n) => s + (n * (n - 1)) / 2, 0);
  const count = (key: (i: number) => string) => {
    const m = new Map<string, number>();
    rows.forEach((_, i) => m.set(key(i), (m.get(key(i)) ?? 0) + 1));
    return m;
  };
  const predicted = pairs(count((i) => String(find(i))));
  const truth = pairs(count((i) => rows[i]?.truth ?? ''));
  const tp = pairs(count((i) => `${find(i)}|${rows[i]?.truth}`));
  const p = predicted ? tp / predicted : 1;
  const r = truth ? tp / truth : 1;
  const fns: string[] = [];
  const byTruth = new Map<string, number[]>();
  rows.forEach((row, i) => byTruth.set(row.truth, [...(byTruth.get(row.truth) ?? []), i]));
  for (const members of byTruth.values()) {
    if (fns.length >= explain) break;
    const a = members[0] ?? 0;
    for (const b of members.slice(1)) {
      if (find(a) !== find(b) && fns.length < explain) {
        const s = scorePair(features[a] as MatchFeatures, features[b] as MatchFeatures, rules);
        fns.push(`${s.score} ${JSON.stringify(rows[a]?.traits)}\n      ${JSON.stringify(rows[b]?.traits)} ${rows[a]?.emails} ${rows[b]?.emails}\n      ${s.reasons.join(', ')}`);
      }
    }
  }
  return { p, r, f1: (2 * p * r) / (p + r || 1), reviewPairs, fps, fns };
}

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const KEY_LIMIT = Number(arg('keylimit') ?? 50);
const MIN_AGREE = Number(arg('agree') ?? 3);
const CONFLICT = Number(arg('conflict') ?? -8);
const explain = Number(process.argv.find((a) => a.startsWith('--explain='))?.slice(10) ?? 0);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',');
for (const [name, load] of Object.entries(DATASETS)) {
  if (only && !only.includes(name)) continue;
  const t = Date.now();
  const res = run(load(), DEFAULT_RULES, Number(arg('auto') ?? DEFAULT_MATCHING.autoMerge), Number(arg('review') ?? DEFAULT_MATCHING.review), explain);
  console.log(`${name.padEnd(13)} P ${res.p.toFixed(5)} R ${res.r.toFixed(5)} F1 ${res.f1.toFixed(5)} review ${res.reviewPairs} ${Date.now() - t} ms`);
  for (const fp of res.fps) console.log('  FP', fp);
  for (const fn of res.fns) console.log('  FN', fn);
}
