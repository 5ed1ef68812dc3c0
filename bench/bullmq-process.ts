// The ceiling: a bare BullMQ pipeline, one no-op job per record (the record as its data), added
// with addBulk in chunks of 1000 and processed by one Worker of concurrency 50, in its own process.
//   env: BENCH_PREFIX, REDIS_URL
//   ← { type: 'run', mode: 'add+process' | 'drain', n, run }  → { type: 'result', mode, n, seconds }
//   ← { type: 'stop' }
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { REDIS_URL } from '../test/support/env.js';
import { generateRecords } from './data.js';

export type BaselineRequest = { type: 'run'; mode: 'add+process' | 'drain'; n: number; run: number } | { type: 'stop' };
export type BaselineMessage = { type: 'ready' } | { type: 'result'; mode: string; n: number; seconds: number } | { type: 'error'; message: string };

const prefix = process.env['BENCH_PREFIX'];
if (!prefix) throw new Error('BENCH_PREFIX is required');
const CHUNK = 1000;
const CONCURRENCY = 50;
const JOB_OPTIONS = { attempts: 10, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { count: 1000 }, removeOnFail: false } as const;

const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const workerConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
let records = generateRecords({ count: 1, tag: 'baseline', seed: 7 });

function send(message: BaselineMessage): void {
  process.send?.(message);
}

async function addAll(queue: Queue, n: number): Promise<void> {
  for (let i = 0; i < n; i += CHUNK) {
    const jobs = [];
    for (let j = i; j < Math.min(n, i + CHUNK); j += 1) jobs.push({ name: 'record', data: records[j % records.length], opts: JOB_OPTIONS });
    await queue.addBulk(jobs);
  }
}

async function run(mode: 'add+process' | 'drain', n: number, runNo: number): Promise<number> {
  if (records.length < n) records = generateRecords({ count: n, tag: 'baseline', seed: 7 });
  const name = `baseline-${mode === 'drain' ? 'drain' : 'add'}-${runNo}`;
  const queue = new Queue(name, { connection, prefix });
  let processed = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const makeWorker = () =>
    new Worker(
      name,
      async () => {
        processed += 1;
        if (processed === n) done();
      },
      { connection: workerConnection, prefix, concurrency: CONCURRENCY, autorun: true },
    );
  let worker: Worker;
  let started: number;
  if (mode === 'drain') {
    await addAll(queue, n);
    started = performance.now();
    worker = makeWorker();
  } else {
    started = performance.now();
    worker = makeWorker();
    await addAll(queue, n);
  }
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return seconds;
}

process.on('message', (message: BaselineRequest) => {
  void (async () => {
    try {
      if (message.type === 'stop') {
        connection.disconnect();
        workerConnection.disconnect();
        process.exit(0);
      }
      const seconds = await run(message.mode, message.n, message.run);
      send({ type: 'result', mode: message.mode, n: message.n, seconds });
    } catch (err) {
      send({ type: 'error', message: (err as Error).stack ?? String(err) });
    }
  })();
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
