import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { STORES } from '../support/env.js';
import { startTestHub, type TestHub } from '../support/hub.js';

const PEOPLE = 200;
const RECORDS_PER_PERSON = 10;

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

type TestRecord = { source: string; sourceId: string; kind: string; identifiers: Record<string, unknown>; traits: Record<string, unknown> };

/**
 * 2,000 records for 200 people: each record carries one or two of its person's three identifiers
 * (email, phone, id in another system), written differently, so that every record of a person is
 * linked to the others only through chains of shared identifiers; then shuffled.
 */
function people(seed: number): TestRecord[] {
  const random = rng(seed);
  const records: TestRecord[] = [];
  for (let p = 0; p < PEOPLE; p += 1) {
    const emails = [`person${p}@example.com`, `Person${p}@EXAMPLE.com`, ` person${p}@example.COM `];
    const national = String(9_160_000_000 + p);
    const phones = [`+7${national}`, `8 (${national.slice(0, 3)}) ${national.slice(3, 6)}-${national.slice(6, 8)}-${national.slice(8)}`, `8${national}`];
    const pick = (list: string[]) => list[Math.floor(random() * list.length)] ?? list[0]!;
    const identifierSets = [
      () => ({ emails: [pick(emails)] }),
      () => ({ phones: [pick(phones)] }),
      () => ({ ids: { erp: `P${p}` } }),
    ];
    for (let k = 0; k < RECORDS_PER_PERSON; k += 1) {
      // Records 0..2 carry a pair (so the three identifiers are joined); the rest one or two at random.
      const first = k < 3 ? k : Math.floor(random() * 3);
      const chosen = k < 3 || random() < 0.5 ? [first, (first + 1) % 3] : [first];
      const identifiers = Object.assign({}, ...chosen.map((i) => identifierSets[i]!()));
      records.push({ source: `src${k % 3}`, sourceId: `p${p}-r${k}`, kind: 'contact', identifiers, traits: { person: p } });
    }
  }
  for (let i = records.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [records[i], records[j]] = [records[j]!, records[i]!];
  }
  return records;
}

async function postInParallel(hub: TestHub, records: TestRecord[], batchSize: number) {
  const batches: TestRecord[][] = [];
  for (let i = 0; i < records.length; i += batchSize) batches.push(records.slice(i, i + batchSize));
  const answers = await Promise.all(batches.map((batch) => hub.request('POST', '/v1/records', { body: { records: batch } })));
  expect(answers.map((a) => a.statusCode).every((s) => s === 202)).toBe(true);
}

async function expectOneProfilePerPerson(hub: TestHub) {
  const rows = (await hub.testDb.db.query<{ source_id: string; profile_id: string }>('SELECT source_id, profile_id FROM records')).rows;
  expect(rows).toHaveLength(PEOPLE * RECORDS_PER_PERSON);
  const profileOfPerson = new Map<string, Set<string>>();
  for (const row of rows) {
    const person = row.source_id.split('-')[0]!;
    profileOfPerson.set(person, (profileOfPerson.get(person) ?? new Set()).add(row.profile_id));
  }
  expect([...profileOfPerson.values()].filter((s) => s.size !== 1)).toEqual([]);
  expect(new Set(rows.map((r) => r.profile_id)).size).toBe(PEOPLE);
  expect((await hub.store.counts()).profiles).toBe(PEOPLE);
  const failed = await hub.ingest.queue.getFailedCount();
  expect(failed).toBe(0);
}

describe.each(STORES)('concurrent resolution on %s', (store) => {
  let hub: TestHub | undefined;
  afterEach(async () => hub?.close());

  it('ends 2,000 shuffled records of 200 people in exactly 200 profiles with worker concurrency 16', async () => {
    hub = await startTestHub({ store, config: { pipeline: { concurrency: 16 } } });
    await postInParallel(hub, people(1), 10);
    await hub.drained(120_000);
    await expectOneProfilePerPerson(hub);
  });
});

describe('concurrent resolution across processes on postgres', () => {
  let hub: TestHub | undefined;
  const children: ChildProcess[] = [];
  afterEach(async () => {
    await Promise.all(
      children.splice(0).map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
    await hub?.close();
  });

  function startWorkerProcess(schema: string, prefix: string): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/worker-process.ts'], {
      env: { ...process.env, TEST_SCHEMA: schema, TEST_PREFIX: prefix, TEST_CONCURRENCY: '16' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('worker ready')) resolve(child);
      });
      child.once('exit', (code) => reject(new Error(`worker process exited with ${code}`)));
    });
  }

  it('ends 2,000 shuffled records of 200 people in exactly 200 profiles with two worker processes', async () => {
    hub = await startTestHub({ store: 'postgres', role: 'api' });
    const schema = hub.testDb.schema;
    if (!schema) throw new Error('expected a postgres schema');
    await Promise.all([startWorkerProcess(schema, hub.prefix), startWorkerProcess(schema, hub.prefix)]);
    await postInParallel(hub, people(2), 10);
    await hub.drained(120_000);
    await expectOneProfilePerPerson(hub);
  });
});
