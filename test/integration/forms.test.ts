import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { STORES } from '../support/env.js';
import { startTestHub, type TestHub } from '../support/hub.js';

const SITE = 'https://www.example.com';
const THANKS = 'https://www.example.com/thanks';

const FORMS = [
  {
    id: 'contact',
    fields: { name: 'fullName', email: 'email', phone: 'phone', topic: 'subject', message: 'body' },
    honeypot: 'website',
    corsOrigins: [SITE],
  },
  {
    id: 'callback',
    source: 'site',
    fields: { name: 'fullName', phone: 'phone' },
    honeypot: 'website',
    redirect: THANKS,
  },
];

const URLENCODED = { 'content-type': 'application/x-www-form-urlencoded' };

/** A multipart/form-data body as a browser would send it. */
async function multipart(form: FormData): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const encoded = new Response(form);
  return { payload: Buffer.from(await encoded.arrayBuffer()), headers: { 'content-type': encoded.headers.get('content-type') ?? '' } };
}

function expectProblem(res: LightMyRequestResponse, status: number) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.json()).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
}

describe.each(STORES)('web forms on %s', (store) => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ store, config: { forms: FORMS } });
  });
  afterAll(async () => hub?.close());

  /** A public form post: no API key. */
  function post(formId: string, body: unknown, headers: Record<string, string> = {}) {
    return hub.request('POST', `/v1/forms/${formId}`, { body, key: null, headers });
  }
  async function profileByPhone(phone: string) {
    const found = await hub.request('GET', `/v1/profiles?phone=${encodeURIComponent(phone)}`);
    expect(found.statusCode, found.body).toBe(200);
    expect(found.json().data).toHaveLength(1);
    return found.json().data[0] as { id: string; traits: Record<string, unknown> };
  }
  async function timelineOf(profileId: string) {
    const res = await hub.request('GET', `/v1/profiles/${profileId}/timeline`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json().data as Record<string, unknown>[];
  }
  async function expectNoFailedJobs() {
    expect(await hub.ingest.queue.getJobCounts('failed')).toEqual({ failed: 0 });
  }

  it('stores an urlencoded post with Cyrillic values as a form interaction on the profile, without an API key', async () => {
    const body = new URLSearchParams({
      name: 'Иван Петров',
      email: 'Ivan.Petrov@Example.COM',
      phone: '8 (916) 123-45-67',
      topic: 'Заявка',
      comment: 'Перезвоните после обеда',
      website: '',
    }).toString();
    const res = await post('contact', body, URLENCODED);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual({ accepted: 1 });
    await hub.drained();
    await expectNoFailedJobs();

    const profile = await profileByPhone('+79161234567');
    expect(profile.traits['fullName']).toBe('Иван Петров');
    const byEmail = await hub.request('GET', '/v1/profiles?email=ivan.petrov%40example.com');
    expect(byEmail.json().data.map((p: { id: string }) => p.id)).toEqual([profile.id]);

    const timeline = await timelineOf(profile.id);
    expect(timeline).toHaveLength(1);
    const item = timeline[0]!;
    expect(item).toMatchObject({ source: 'web-form', channel: 'form', direction: 'inbound', subject: 'Заявка' });
    expect(item['sourceId']).toMatch(/^contact\//);
    expect(item['body']).toContain('comment: Перезвоните после обеда');
    expect(item['data']).toEqual({ formId: 'contact', fields: { comment: 'Перезвоните после обеда' } });
  });

  it('stores a multipart post, keeping an uploaded file\u2019s name but not its content', async () => {
    const form = new FormData();
    form.append('name', 'Мария Сидорова');
    form.append('phone', '+7 903 555 01 01');
    form.append('message', 'Резюме во вложении');
    form.append('interests', 'Окна');
    form.append('interests', 'Двери');
    form.append('cv', new Blob(['SECRET-FILE-CONTENT'], { type: 'text/plain' }), 'резюме.txt');
    const { payload, headers } = await multipart(form);
    const res = await post('contact', payload, headers);
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
    await expectNoFailedJobs();

    const profile = await profileByPhone('+79035550101');
    expect(profile.traits['fullName']).toBe('Мария Сидорова');
    const [item] = await timelineOf(profile.id);
    expect(item).toMatchObject({ channel: 'form', direction: 'inbound' });
    expect(item!['body']).toContain('Резюме во вложении');
    expect(item!['body']).toContain('interests: Окна, Двери');
    expect(item!['body']).toContain('резюме.txt');
    expect(JSON.stringify(item)).not.toContain('SECRET-FILE-CONTENT');
  });

  it('keeps a multipart field of 15 000 Cyrillic characters (30 000 bytes) whole', async () => {
    const long = 'ж'.repeat(15_000);
    const form = new FormData();
    form.append('phone', '+7 903 555 01 02');
    form.append('comment', long);
    const { payload, headers } = await multipart(form);
    const res = await post('contact', payload, headers);
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
    await expectNoFailedJobs();
    const [item] = await timelineOf((await profileByPhone('+79035550102')).id);
    expect(item!['data']).toEqual({ formId: 'contact', fields: { comment: long } });
  });

  it('skips a file input left empty, which a browser posts as a part with filename=""', async () => {
    const boundary = '----crm-hub-test-boundary';
    const payload = [
      `--${boundary}`,
      'Content-Disposition: form-data; name="phone"',
      '',
      '+7 903 555 01 03',
      `--${boundary}`,
      'Content-Disposition: form-data; name="cv"; filename=""',
      'Content-Type: application/octet-stream',
      '',
      '',
      `--${boundary}--`,
      '',
    ].join('\r\n');
    const res = await post('contact', payload, { 'content-type': `multipart/form-data; boundary=${boundary}` });
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
    await expectNoFailedJobs();
    const [item] = await timelineOf((await profileByPhone('+79035550103')).id);
    expect(item).not.toHaveProperty('body');
    expect(item!['data']).toEqual({ formId: 'contact', fields: {} });
  });

  it('stores a JSON post', async () => {
    const res = await post('contact', { name: 'Пётр', phone: '+7 903 555 02 02', email: 'petr@example.com', message: 'Хочу счёт', agree: true, count: 3 });
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
    await expectNoFailedJobs();
    const profile = await profileByPhone('+79035550202');
    expect(profile.traits['fullName']).toBe('Пётр');
    const [item] = await timelineOf(profile.id);
    expect(item).toMatchObject({ channel: 'form', body: 'Хочу счёт\nagree: true\ncount: 3' });
  });

  it('treats a JSON null as an empty field', async () => {
    const res = await post('contact', { name: 'Нулл', phone: '+7 903 555 02 03', email: null, comment: null });
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
    await expectNoFailedJobs();
    const [item] = await timelineOf((await profileByPhone('+79035550203')).id);
    expect(item!['data']).toEqual({ formId: 'contact', fields: {} });
  });

  it('keeps fields named constructor or __proto__ as ordinary unmapped fields', async () => {
    const body = 'phone=%2B79035550204&constructor=c&toString=t&__proto__=a&__proto__=b';
    const res = await post('contact', body, URLENCODED);
    expect(res.statusCode, res.body).toBe(202);
    await hub.drained();
    await expectNoFailedJobs();
    const profile = await profileByPhone('+79035550204');
    expect(profile.traits).toEqual({});
    const [item] = await timelineOf(profile.id);
    expect(item!['body']).toBe('constructor: c\ntoString: t\n__proto__: a, b');
    expect(item!['data']).toEqual(JSON.parse('{"formId":"contact","fields":{"constructor":"c","toString":"t","__proto__":["a","b"]}}'));
  });

  it('answers a filled honeypot like a person, 202, and stores nothing', async () => {
    const before = await hub.store.counts();
    const res = await post('contact', new URLSearchParams({ name: 'Bot', phone: '+7 903 555 03 03', website: 'http://spam.example' }).toString(), URLENCODED);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toEqual({ accepted: 1 });
    await hub.drained();
    expect(await hub.store.counts()).toEqual(before);
    const found = await hub.request('GET', '/v1/profiles?phone=%2B79035550303');
    expect(found.json().data).toEqual([]);
  });

  it('redirects a filled honeypot to the thank-you page like a person when the form has a redirect, and stores nothing', async () => {
    const before = await hub.store.counts();
    const res = await post('callback', new URLSearchParams({ name: 'Bot', phone: '+7 903 555 04 04', website: 'x' }).toString(), URLENCODED);
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers['location']).toBe(THANKS);
    await hub.drained();
    expect(await hub.store.counts()).toEqual(before);
  });

  it('redirects a plain HTML form to its thank-you page with 303 and still stores the submission', async () => {
    const res = await post('callback', new URLSearchParams({ name: 'Ольга', phone: '+7 903 555 05 05', website: '' }).toString(), URLENCODED);
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers['location']).toBe(THANKS);
    await hub.drained();
    await expectNoFailedJobs();
    const profile = await profileByPhone('+79035550505');
    expect(profile.traits['fullName']).toBe('Ольга');
    const [item] = await timelineOf(profile.id);
    expect(item).toMatchObject({ source: 'site', channel: 'form', subject: 'Form callback' });
  });

  it('answers 404 problem+json to an unknown form id, and stores nothing', async () => {
    const before = await hub.store.counts();
    expectProblem(await post('no-such-form', new URLSearchParams({ phone: '+7 903 555 06 06' }).toString(), URLENCODED), 404);
    expectProblem(await post('no-such-form', { phone: '+7 903 555 06 06' }), 404);
    await hub.drained();
    expect(await hub.store.counts()).toEqual(before);
  });

  it('answers a CORS preflight from an allowed origin and not from another origin', async () => {
    const preflight = (formId: string, origin: string) =>
      hub.request('OPTIONS', `/v1/forms/${formId}`, {
        key: null,
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const allowed = await preflight('contact', SITE);
    expect(allowed.statusCode, allowed.body).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe(SITE);
    expect(String(allowed.headers['access-control-allow-methods'])).toContain('POST');
    expect(String(allowed.headers['access-control-allow-headers'])).toContain('content-type');

    const withKey = await hub.request('OPTIONS', '/v1/forms/contact', {
      key: null,
      headers: { origin: SITE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,idempotency-key' },
    });
    expect(String(withKey.headers['access-control-allow-headers'])).toContain('idempotency-key');

    const other = await preflight('contact', 'https://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    // The allow-list is per form: callback allows no origin at all.
    const noList = await preflight('callback', SITE);
    expect(noList.headers['access-control-allow-origin']).toBeUndefined();
    const unknown = await preflight('no-such-form', SITE);
    expect(unknown.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('puts the allow-origin header on a post from an allowed origin only', async () => {
    const fromSite = await post('contact', { name: 'Cors', phone: '+7 903 555 07 07' }, { origin: SITE });
    expect(fromSite.statusCode, fromSite.body).toBe(202);
    expect(fromSite.headers['access-control-allow-origin']).toBe(SITE);
    const fromOther = await post('contact', { name: 'Cors', phone: '+7 903 555 07 08' }, { origin: 'https://evil.example' });
    expect(fromOther.headers['access-control-allow-origin']).toBeUndefined();
    await hub.drained();
  });

  it('answers 415 problem+json to a content type a form does not send, and stores nothing', async () => {
    const before = await hub.store.counts();
    expectProblem(await post('contact', 'name=Text&phone=%2B79035550808', { 'content-type': 'text/plain' }), 415);
    expectProblem(await post('contact', '<form/>', { 'content-type': 'application/xml' }), 415);
    await hub.drained();
    expect(await hub.store.counts()).toEqual(before);
  });

  it('answers 400 problem+json to a JSON body that is not a set of named fields', async () => {
    expectProblem(await post('contact', JSON.stringify(['a', 'b']), { 'content-type': 'application/json' }), 400);
    expectProblem(await post('contact', { name: { first: 'Иван' } }), 400);
    expectProblem(await post('contact', '{"name": ', { 'content-type': 'application/json' }), 400);
  });

  it('answers 400 problem+json to a malformed multipart body', async () => {
    expectProblem(await post('contact', 'name=x', { 'content-type': 'multipart/form-data' }), 400);
    const cutOff = '--XX\r\nContent-Disposition: form-data; name="name"\r\n\r\nАнна';
    expectProblem(await post('contact', cutOff, { 'content-type': 'multipart/form-data; boundary=XX' }), 400);
  });

  it('answers 413 problem+json to a body over the limit or a field over its length', async () => {
    const huge = new URLSearchParams({ phone: '+7 903 555 09 09', comment: 'x'.repeat(1024 * 1024 + 10) }).toString();
    expectProblem(await post('contact', huge, URLENCODED), 413);
    expectProblem(await post('contact', { comment: 'x'.repeat(1024 * 1024 + 10) }), 413);
    expectProblem(await post('contact', new URLSearchParams({ comment: 'я'.repeat(20_001) }).toString(), URLENCODED), 413);
    const tooMany = new URLSearchParams(Array.from({ length: 201 }, (_, i) => [`f${i}`, 'v']));
    expectProblem(await post('contact', tooMany.toString(), URLENCODED), 413);
  });

  it('answers 413 problem+json to a multipart field over its length instead of cutting it', async () => {
    const before = await hub.store.counts();
    for (const comment of ['x'.repeat(20_001), 'ж'.repeat(30_001), '日'.repeat(20_001)]) {
      const form = new FormData();
      form.append('phone', '+7 903 555 10 11');
      form.append('comment', comment);
      const { payload, headers } = await multipart(form);
      expectProblem(await post('contact', payload, headers), 413);
    }
    await hub.drained();
    expect(await hub.store.counts()).toEqual(before);
  });

  it('answers 413 problem+json to a multipart upload over the file size limit', async () => {
    const before = await hub.store.counts();
    const form = new FormData();
    form.append('phone', '+7 903 555 10 10');
    form.append('cv', new Blob([Buffer.alloc(1024 * 1024 + 1, 'a')]), 'big.bin');
    const { payload, headers } = await multipart(form);
    expectProblem(await post('contact', payload, headers), 413);
    await hub.drained();
    expect(await hub.store.counts()).toEqual(before);
  });

  it('stores one record when the same submission is posted twice with the same Idempotency-Key', async () => {
    const before = await hub.store.counts();
    const body = new URLSearchParams({ name: 'Повтор', phone: '+7 903 555 11 11', comment: 'двойной клик' }).toString();
    for (let i = 0; i < 2; i += 1) {
      const res = await post('contact', body, { ...URLENCODED, 'idempotency-key': 'click-42' });
      expect(res.statusCode, res.body).toBe(202);
    }
    await hub.drained();
    await expectNoFailedJobs();
    const after = await hub.store.counts();
    expect(after.records - before.records).toBe(1);
    expect(after.profiles - before.profiles).toBe(1);
    const record = await hub.request('GET', `/v1/records/web-form/${encodeURIComponent('contact/click-42')}`);
    expect(record.statusCode, record.body).toBe(200);
    expect(record.json()).toMatchObject({ kind: 'interaction', status: 'processed' });

    // Without a key each post is its own submission.
    await post('contact', body, URLENCODED);
    await post('contact', body, URLENCODED);
    await hub.drained();
    expect((await hub.store.counts()).records - after.records).toBe(2);
  });
});

describe.each(STORES)('web form rate limit on %s', (store) => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({ store, config: { forms: FORMS, rateLimit: { publicMax: 3, windowMs: 60_000 } } });
  });
  afterAll(async () => hub?.close());

  const postFrom = (remoteAddress: string, phone: string) =>
    hub.app!.inject({ method: 'POST', url: '/v1/forms/contact', remoteAddress, payload: { name: 'Rate', phone } });

  it('answers 429 problem+json to the post over publicMax from one IP within the window, and counts each IP apart', async () => {
    for (let i = 0; i < 3; i += 1) {
      const res = await postFrom('203.0.113.7', `+7 903 555 12 0${i}`);
      expect(res.statusCode, res.body).toBe(202);
    }
    const limited = await postFrom('203.0.113.7', '+7 903 555 12 09');
    expectProblem(limited, 429);

    const otherIp = await postFrom('198.51.100.20', '+7 903 555 12 10');
    expect(otherIp.statusCode, otherIp.body).toBe(202);
    await hub.drained();
    expect((await hub.store.counts()).records).toBe(4);
  });
});
