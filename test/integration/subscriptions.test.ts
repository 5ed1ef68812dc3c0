import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDb } from '../../src/core/store/postgres.db.js';
import { DATABASE_URL, STORES } from '../support/env.js';
import { SCOPED_KEYS, startTestHub, waitFor, type TestHub } from '../support/hub.js';
import { startSubscriber, type Subscriber } from '../support/subscriber.js';

const EVENTS = { relayEveryMs: 50, sweepEveryMs: 300, attempts: 6, backoffMs: 150, timeoutMs: 2000, disableAfterMs: 2000 };

type DeliveryView = { id: string; eventId: string; eventType: string; status: string; attempts: number; lastResponse: { status: number; body: string } | null; error: string | null };

describe.each(STORES)('outbound events on %s', (store) => {
  let hub: TestHub;
  let subscriber: Subscriber;
  beforeAll(async () => {
    subscriber = await startSubscriber();
    hub = await startTestHub({ store, config: { events: EVENTS, alerts: [{ name: 'big-order', kind: 'largeOrder', amount: 100000, currency: 'RUB' }] } });
  });
  afterAll(async () => {
    await hub?.close();
    await subscriber?.close();
  });

  async function ingest(records: unknown[]) {
    const res = await hub.request('POST', '/v1/records', { body: { records } });
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
  }
  async function subscribe(path: string, events: string[]): Promise<{ id: string; secret: string }> {
    const res = await hub.request('POST', '/v1/subscriptions', { body: { url: subscriber.url(path), events } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  }
  async function deliveries(id: string): Promise<DeliveryView[]> {
    const res = await hub.request('GET', `/v1/subscriptions/${id}/deliveries`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json().data;
  }
  const requestsTo = (path: string) => subscriber.received.filter((r) => r.path === path);

  it('creates, shows, lists and deletes subscriptions; the secret is shown once; bad input is a 400', async () => {
    const created = await hub.request('POST', '/v1/subscriptions', { body: { url: subscriber.url('/crud'), events: ['profile.created', 'alert.*'] } });
    expect(created.statusCode, created.body).toBe(201);
    const sub = created.json();
    expect(sub).toMatchObject({ url: subscriber.url('/crud'), events: ['profile.created', 'alert.*'], status: 'active', disabledAt: null, failingSince: null });
    expect(sub.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);

    const shown = await hub.request('GET', `/v1/subscriptions/${sub.id}`);
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).not.toHaveProperty('secret');
    expect(shown.body).not.toContain(sub.secret.slice(6));

    const own = await hub.request('POST', '/v1/subscriptions', { body: { url: 'https://example.com/hook', events: ['*'], secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } });
    expect(own.json().secret).toBe('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    const first = await hub.request('GET', '/v1/subscriptions?limit=1');
    expect(first.json().data).toHaveLength(1);
    const second = await hub.request('GET', `/v1/subscriptions?limit=1&cursor=${first.json().nextCursor}`);
    expect(second.json().data[0].id).not.toBe(first.json().data[0].id);
    expect(JSON.stringify([...first.json().data, ...second.json().data])).not.toContain('whsec_');

    for (const body of [
      { url: 'ftp://example.com/x', events: ['*'] },
      { url: 'not a url', events: ['*'] },
      { url: 'https://example.com', events: [] },
      { url: 'https://example.com', events: ['profile created'] },
      { url: 'https://example.com', events: ['*'], secret: 'hunter2' },
      { url: 'https://example.com', events: ['*'], extra: 1 },
    ]) {
      const bad = await hub.request('POST', '/v1/subscriptions', { body });
      expect(bad.statusCode, JSON.stringify(body)).toBe(400);
      expect(bad.headers['content-type']).toContain('application/problem+json');
    }
    expect((await hub.request('GET', '/v1/subscriptions/00000000-0000-0000-0000-000000000000')).statusCode).toBe(404);
    expect((await hub.request('GET', '/v1/subscriptions/nope')).statusCode).toBe(404);
    expect((await hub.request('GET', '/v1/subscriptions?cursor=forged')).statusCode).toBe(400);
    expect((await hub.request('GET', '/v1/subscriptions', { key: SCOPED_KEYS.read })).statusCode).toBe(403);
    expect((await hub.request('GET', '/v1/subscriptions', { key: null })).statusCode).toBe(401);

    expect((await hub.request('DELETE', `/v1/subscriptions/${own.json().id}`)).statusCode).toBe(204);
    expect((await hub.request('GET', `/v1/subscriptions/${own.json().id}`)).statusCode).toBe(404);
    expect((await hub.request('DELETE', `/v1/subscriptions/${own.json().id}`)).statusCode).toBe(404);
    await hub.request('DELETE', `/v1/subscriptions/${sub.id}`);
  });

  it('delivers every event type signed per Standard Webhooks, in order per profile, to the subscriptions that want it', async () => {
    const all = await subscribe('/all', ['*']);
    const created = await subscribe('/created', ['profile.created']);
    const alerts = await subscribe('/alerts', ['alert.*']);

    await ingest([{ source: 'erp', sourceId: 'A-1', kind: 'contact', identifiers: { emails: ['anna@example.com'] }, traits: { firstName: 'Анна' } }]);
    await ingest([{ source: 'erp', sourceId: 'A-1', kind: 'contact', identifiers: { emails: ['anna@example.com'] }, traits: { firstName: 'Анна', lastName: 'Иванова' } }]);
    await ingest([{ source: 'crm', sourceId: 'B-1', kind: 'contact', identifiers: { phones: ['+7 999 000 11 22'] }, traits: { company: 'ООО Ромашка' } }]);
    await ingest([{ source: 'mail', sourceId: 'm-1', kind: 'interaction', identifiers: { emails: ['ANNA@example.com'], phones: ['89990001122'] }, interaction: { channel: 'email', subject: 'Привет' } }]);
    await ingest([{ source: 'shop', sourceId: 'o-1', kind: 'interaction', identifiers: { emails: ['anna@example.com'] }, interaction: { channel: 'order', amount: 250000, currency: 'RUB' } }]);
    await ingest([{ source: 'shop', sourceId: 'o-2', kind: 'interaction', identifiers: { emails: ['anna@example.com'] }, interaction: { channel: 'order', amount: 900, currency: 'RUB' } }]);

    await waitFor(async () => subscriber.delivered(all.secret, '/all').filter((e) => e.type === 'interaction.created').length === 3 && subscriber.delivered(all.secret, '/all').some((e) => e.type === 'alert.big-order'));
    const got = subscriber.delivered(all.secret, '/all');
    const anna = (await hub.request('GET', '/v1/records/erp/A-1')).json().profileId as string;
    const other = got.find((e) => e.type === 'profile.created' && e.data['profileId'] !== anna)?.data['profileId'];

    expect(got.map((e) => e.type).sort()).toEqual(
      ['profile.created', 'profile.updated', 'profile.created', 'profile.merged', 'profile.updated', 'interaction.created', 'interaction.created', 'interaction.created', 'alert.big-order'].sort(),
    );
    // In order per profile: the outbox ids (webhook-id evt_<id>) rise, and the story reads right.
    const ofAnna = got.filter((e) => e.data['profileId'] === anna);
    const ids = ofAnna.map((e) => Number(e.id.replace('evt_', '')));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    // The alert is appended by the relay when it reads the order, so it follows that order; whether
    // it precedes the next interaction depends on whether the relay ran in between.
    expect(ofAnna.map((e) => e.type).filter((t) => t !== 'alert.big-order')).toEqual([
      'profile.created',
      'profile.updated',
      'profile.merged',
      'profile.updated',
      'interaction.created',
      'interaction.created',
      'interaction.created',
    ]);
    const orderAt = ofAnna.findIndex((e) => e.data['sourceId'] === 'o-1');
    expect(ofAnna.findIndex((e) => e.type === 'alert.big-order')).toBeGreaterThan(orderAt);
    const alert = ofAnna.find((e) => e.type === 'alert.big-order');
    expect(ofAnna[0]?.data).toEqual({ profileId: anna, traits: { firstName: 'Анна' } });
    expect(ofAnna[1]?.data).toEqual({ profileId: anna, changes: { lastName: { before: null, after: 'Иванова' } } });
    expect(ofAnna[2]?.data).toMatchObject({ profileId: anna, survivorId: anna, mergedId: other, reason: expect.any(String) });
    expect(ofAnna[3]?.data).toMatchObject({ changes: { company: { before: null, after: 'ООО Ромашка' } } });
    expect(ofAnna[4]?.data).toMatchObject({ source: 'mail', sourceId: 'm-1', channel: 'email', subject: 'Привет', occurredAt: expect.any(String) });
    expect(alert?.data).toMatchObject({ profileId: anna, rule: 'big-order', reason: expect.stringContaining('250000'), interaction: { source: 'shop', sourceId: 'o-1' } });
    for (const e of got) expect(Date.parse(e.timestamp)).not.toBeNaN();

    await waitFor(async () => subscriber.delivered(created.secret, '/created').length === 2 && subscriber.delivered(alerts.secret, '/alerts').length === 1);
    expect(subscriber.delivered(created.secret, '/created').map((e) => e.type)).toEqual(['profile.created', 'profile.created']);
    expect(subscriber.delivered(alerts.secret, '/alerts').map((e) => e.type)).toEqual(['alert.big-order']);
    expect(() => subscriber.delivered(all.secret, '/created')).toThrow();

    // The subscriber has every request before the worker records their answers: wait for the rows.
    await waitFor(async () => (await deliveries(all.id)).filter((d) => d.status !== 'pending').length === 9);
    const log = await deliveries(all.id);
    expect(log).toHaveLength(9);
    for (const d of log) expect(d).toMatchObject({ status: 'delivered', attempts: 1, lastResponse: { status: 200, body: 'ok' }, error: null });
    expect(log.map((d) => d.eventType)).toContain('alert.big-order');
    const page = await hub.request('GET', `/v1/subscriptions/${all.id}/deliveries?limit=5`);
    const rest = await hub.request('GET', `/v1/subscriptions/${all.id}/deliveries?limit=5&cursor=${page.json().nextCursor}`);
    expect([...page.json().data, ...rest.json().data].map((d: DeliveryView) => d.id)).toEqual(log.map((d) => d.id));
    // Finished deliveries older than events.keepDeliveriesDays leave the log; the others stay.
    await hub.testDb.db.query(`UPDATE deliveries SET created_at = now() - interval '31 days' WHERE subscription_id = $1 AND event_type = 'profile.created'`, [all.id]);
    await waitFor(async () => (await deliveries(all.id)).length === 7);
    expect((await deliveries(all.id)).map((d) => d.eventType)).not.toContain('profile.created');
    for (const id of [all.id, created.id, alerts.id]) await hub.request('DELETE', `/v1/subscriptions/${id}`);
  });

  it('holds back a profile\'s later events while an earlier one is retried', async () => {
    const flaky = await subscribe('/flaky', ['profile.*']);
    let failures = 2;
    subscriber.answer = (r) => (r.path === '/flaky' && failures-- > 0 ? 503 : 200);
    try {
      await ingest([{ source: 'erp', sourceId: 'O-1', kind: 'contact', identifiers: { emails: ['olga@example.com'] }, traits: { firstName: 'Ольга' } }]);
      await ingest([{ source: 'erp', sourceId: 'O-1', kind: 'contact', identifiers: { emails: ['olga@example.com'] }, traits: { firstName: 'Ольга', city: 'Казань' } }]);
      await waitFor(async () => subscriber.delivered(flaky.secret, '/flaky').length === 2);
      const sent = requestsTo('/flaky').map((r) => ({ id: String(r.headers['webhook-id']), answered: r.answered, type: JSON.parse(r.body).type as string }));
      expect(sent.map((s) => `${s.type}:${s.answered}`)).toEqual(['profile.created:503', 'profile.created:503', 'profile.created:200', 'profile.updated:200']);
      expect(new Set(sent.slice(0, 3).map((s) => s.id)).size).toBe(1);
      // The subscriber has answered; the hub writes down the outcome right after.
      await waitFor(async () => (await deliveries(flaky.id)).every((d) => d.status === 'delivered'));
      const log = await deliveries(flaky.id);
      expect(log.map((d) => [d.eventType, d.status, d.attempts])).toEqual([
        ['profile.updated', 'delivered', 1],
        ['profile.created', 'delivered', 3],
      ]);
    } finally {
      subscriber.answer = () => 200;
      await hub.request('DELETE', `/v1/subscriptions/${flaky.id}`);
    }
  });

  it('retries a failing subscriber with growing backoff, disables it, sends what waited once re-enabled, and redelivers on request', async () => {
    const failing = await subscribe('/failing', ['profile.created']);
    subscriber.answer = (r) => (r.path === '/failing' ? 500 : 200);
    try {
      await ingest([{ source: 'erp', sourceId: 'F-1', kind: 'contact', identifiers: { emails: ['fail@example.com'] } }]);
      await waitFor(async () => (await hub.request('GET', `/v1/subscriptions/${failing.id}`)).json().status === 'disabled', 20_000);
      const sub = (await hub.request('GET', `/v1/subscriptions/${failing.id}`)).json();
      expect(sub.disabledReason).toMatch(/failing/);
      expect(sub.disabledAt).toEqual(expect.any(String));
      expect(sub.failingSince).toEqual(expect.any(String));

      const tries = requestsTo('/failing');
      expect(tries.length).toBeGreaterThanOrEqual(3);
      expect(new Set(tries.map((t) => t.headers['webhook-id'])).size).toBe(1);
      const gaps = tries.slice(1).map((t, i) => t.at - (tries[i]?.at ?? 0));
      expect(gaps[0]).toBeGreaterThanOrEqual(100);
      // Exponential: the later waits outgrow the first one (compared to the longest, as a busy
      // machine may delay any single try).
      expect(Math.max(...gaps.slice(1))).toBeGreaterThan(gaps[0] ?? 0);
      const [waiting] = await deliveries(failing.id);
      expect(waiting).toMatchObject({ status: 'pending', attempts: tries.length, lastResponse: { status: 500, body: expect.stringContaining('нет, не сейчас') } });

      // Disabled: new events are not queued for it, and nothing more is sent.
      await ingest([{ source: 'erp', sourceId: 'F-2', kind: 'contact', identifiers: { emails: ['fail2@example.com'] } }]);
      await new Promise((r) => setTimeout(r, 500));
      expect(requestsTo('/failing')).toHaveLength(tries.length);
      expect(await deliveries(failing.id)).toHaveLength(1);

      subscriber.answer = () => 200;
      const enabled = await hub.request('PATCH', `/v1/subscriptions/${failing.id}`, { body: { enabled: true } });
      expect(enabled.statusCode, enabled.body).toBe(200);
      expect(enabled.json()).toMatchObject({ status: 'active', disabledAt: null, disabledReason: null, failingSince: null });
      await waitFor(async () => (await deliveries(failing.id))[0]?.status === 'delivered');
      expect(subscriber.delivered(failing.secret, '/failing').map((e) => e.type)).toEqual(['profile.created']);

      const [done] = await deliveries(failing.id);
      const retried = await hub.request('POST', `/v1/subscriptions/${failing.id}/deliveries/${done?.id}/retry`);
      expect(retried.statusCode, retried.body).toBe(202);
      expect(retried.json()).toMatchObject({ id: done?.id, status: 'pending' });
      await waitFor(async () => subscriber.delivered(failing.secret, '/failing').length === 2);
      await waitFor(async () => (await deliveries(failing.id))[0]?.status === 'delivered');
      expect((await deliveries(failing.id))[0]?.attempts).toBe((done?.attempts ?? 0) + 1);
      const [a, b] = subscriber.delivered(failing.secret, '/failing');
      expect(b?.id).toBe(a?.id);

      expect((await hub.request('POST', `/v1/subscriptions/${failing.id}/deliveries/999999/retry`)).statusCode).toBe(404);
      expect((await hub.request('POST', `/v1/subscriptions/${failing.id}/deliveries/abc/retry`)).statusCode).toBe(404);
      expect((await hub.request('GET', `/v1/subscriptions/00000000-0000-0000-0000-000000000000/deliveries`)).statusCode).toBe(404);
    } finally {
      subscriber.answer = () => 200;
      await hub.request('DELETE', `/v1/subscriptions/${failing.id}`);
    }
  });

  it('disables a subscriber at once when it answers 410 Gone', async () => {
    const gone = await subscribe('/gone', ['profile.created']);
    subscriber.answer = (r) => (r.path === '/gone' ? 410 : 200);
    try {
      await ingest([{ source: 'erp', sourceId: 'G-1', kind: 'contact', identifiers: { emails: ['gone@example.com'] } }]);
      await waitFor(async () => (await hub.request('GET', `/v1/subscriptions/${gone.id}`)).json().status === 'disabled');
      expect((await hub.request('GET', `/v1/subscriptions/${gone.id}`)).json().disabledReason).toMatch(/410/);
      await new Promise((r) => setTimeout(r, 400));
      expect(requestsTo('/gone')).toHaveLength(1);
    } finally {
      subscriber.answer = () => 200;
      await hub.request('DELETE', `/v1/subscriptions/${gone.id}`);
    }
  });
});

describe('outbound events with two worker processes on postgres', () => {
  let api: TestHub;
  let worker: TestHub;
  let subscriber: Subscriber;
  const config = { events: { ...EVENTS, relayEveryMs: 20, relayBatch: 7, concurrency: 4 } };
  beforeAll(async () => {
    subscriber = await startSubscriber();
    api = await startTestHub({ store: 'postgres', config });
    const db = createPostgresDb({ connectionString: DATABASE_URL, schema: api.testDb.schema ?? undefined });
    worker = await startTestHub({ store: 'postgres', role: 'worker', prefix: api.prefix, testDb: { db, schema: api.testDb.schema, drop: () => db.close() }, config });
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await subscriber?.close();
  });

  it('relays and delivers each profile\'s events once and in order while both relay and send', async () => {
    const res = await api.request('POST', '/v1/subscriptions', { body: { url: subscriber.url('/both'), events: ['*'] } });
    const { secret } = res.json();
    const people = ['один', 'два', 'три', 'четыре'];
    for (let round = 0; round < 6; round += 1) {
      const records = people.flatMap((p, i) =>
        Array.from({ length: 5 }, (_, k) => ({
          source: 'pbx', sourceId: `${p}-${round}-${k}`, kind: 'interaction', identifiers: { phones: [`+7916000000${i}`] }, interaction: { channel: 'call', direction: 'inbound', status: 'answered', subject: p },
        })),
      );
      expect((await api.request('POST', '/v1/records', { body: { records } })).statusCode).toBe(202);
    }
    await api.drained(60_000);
    const expected = people.length * (1 + 30);
    await waitFor(async () => subscriber.delivered(secret, '/both').length >= expected, 60_000);
    const got = subscriber.delivered(secret, '/both');
    expect(got).toHaveLength(expected);
    expect(new Set(got.map((e) => e.id)).size).toBe(expected);
    const byProfile = new Map<string, number[]>();
    for (const e of got) byProfile.set(String(e.data['profileId']), [...(byProfile.get(String(e.data['profileId'])) ?? []), Number(e.id.replace('evt_', ''))]);
    expect(byProfile.size).toBe(people.length);
    for (const ids of byProfile.values()) {
      expect(ids).toHaveLength(31);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
    const first = got.filter((e) => e.type === 'profile.created');
    expect(first).toHaveLength(people.length);
  });
});

describe.each(STORES)('the outbox with nobody listening on %s', (store) => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ store, config: { events: EVENTS } });
  });
  afterAll(async () => hub?.close());

  const outboxEmpty = async () => (await hub.testDb.db.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]?.n === 0;

  it('takes the events off the outbox though no subscription or alert rule wants them, and then those a subscription does not want', async () => {
    const records = Array.from({ length: 30 }, (_, i) => ({ source: 'shop', sourceId: `q${i}`, kind: i % 3 === 0 ? 'interaction' : 'contact', identifiers: { emails: [`q${i % 10}@example.ru`] }, interaction: i % 3 === 0 ? { channel: 'order', amount: 10 } : undefined }));
    const res = await hub.request('POST', '/v1/records', { body: { records: records.slice(0, 15) } });
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
    await waitFor(outboxEmpty);

    const sub = await hub.request('POST', '/v1/subscriptions', { body: { url: 'https://example.com/merges', events: ['profile.merged'] } });
    expect(sub.statusCode, sub.body).toBe(201);
    const bridge = { source: 'shop', sourceId: 'bridge', kind: 'contact', identifiers: { emails: ['q1@example.ru', 'q2@example.ru'] } };
    const more = await hub.request('POST', '/v1/records', { body: { records: [...records.slice(15), bridge] } });
    expect(more.statusCode, more.body).toBe(202);
    await hub.drained();
    await waitFor(outboxEmpty);
    const made = await hub.request('GET', `/v1/subscriptions/${sub.json().id}/deliveries`);
    const types = (made.json().data as { eventType: string }[]).map((d) => d.eventType);
    expect(types.length).toBeGreaterThan(0);
    expect(new Set(types)).toEqual(new Set(['profile.merged']));
  });
});
