import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

const fixture = (name: string) => readFileSync(new URL(`../../../shared/fixtures/${name}`, import.meta.url));

// Vectors from typeform_webhook.source and webflow_form_submission.source.
const TYPEFORM_SECRET = 'typeform_test_secret';
const TYPEFORM_SIGNATURE = 'sha256=h2ACgsKp1C4sX2ySLYyyOL2ibgB2Nt0Vdbf9wDbDsm8=';
const TYPEFORM_TOKEN = 'a3a12ec67a1365927098a606107fac15';
const WEBFLOW_SECRET = 'webflow_test_client_secret';
const WEBFLOW_TIMESTAMP = '1663849649733';
const WEBFLOW_SIGNATURE = 'fb4e1c5589e159f292de34d4b5f6f1af548c0ef7577c38ff940ea06edc001932';
const JOTFORM_SECRET = 'jotform-url-secret-4f9c2a17';
const TILDA_SECRET = 'tilda-url-secret-8b31e0d5';
const GOOGLE_SECRET = 'google-forms-secret-c7d2e9a4';

/**
 * A JotForm webhook post as JotForm sends it (multipart, CRLF, one part per field), written from
 * the documented shape (PROTOCOLS.md §3.4 and the real capture in zulip's JotForm integration
 * tests): ../shared/fixtures has no JotForm file. `pretty` garbles the message (it has a comma and
 * a colon in it) the way JotForm's own does; the record must show it whole.
 */
function jotformBody(submissionId: string, overrides: Record<string, string> = {}): { payload: string; contentType: string } {
  const boundary = '------------------------J1JNT4vbVO4FCC1qLG4HSv';
  const rawRequest = {
    slug: 'submit/241234567890123',
    jsExecutionTracker: 'build-date-1732271172685=>init-started:1732615894703=>onsubmit-fired:1732615897940',
    submitSource: 'form',
    buildDate: '1732271172685',
    q3_name: { first: 'Анна', middle: '', last: 'Смирнова' },
    q4_email: 'anna.smirnova@example.ru',
    q5_phoneNumber: { full: '+7 (912) 345-67-89' },
    q6_company: 'ООО «Ромашка»',
    q7_yourMessage: 'Нужен счёт: 3 лицензии, с доставкой',
    q8_agree: ['Я согласна на обработку персональных данных'],
    timeToSubmit: '41',
    path: '/submit/241234567890123',
    event_id: `1732615894703_241234567890123_${submissionId}`,
  };
  const fields: Record<string, string> = {
    action: '',
    webhookURL: 'https://hub.example.ru/v1/webhooks/jotform?secret=...',
    username: 'example',
    formID: '241234567890123',
    type: 'WEB',
    customParams: '',
    product: '',
    formTitle: 'Заявка на расчёт',
    customTitle: '',
    submissionID: submissionId,
    event: '',
    rawRequest: JSON.stringify(rawRequest),
    fromTable: '',
    appID: '',
    pretty: 'Name:Анна Смирнова, Email:anna.smirnova@example.ru, Phone Number:+7 (912) 345-67-89, Company:ООО «Ромашка», Your Message:Нужен счёт: 3 лицензии, с доставкой, Agree:Я согласна на обработку персональных данных',
    unread: '',
    parent: '',
    ip: '203.0.113.9',
    ...overrides,
  };
  const parts = Object.entries(fields).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  return { payload: `${parts.join('')}--${boundary}--\r\n`, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The Apps Script of docs/connectors/forms.md, run against stand-ins for the Apps Script services; returns what it posted. */
function runAppsScript(call: string, form: object, properties: Record<string, string>) {
  const docs = readFileSync(new URL('../../docs/connectors/forms.md', import.meta.url), 'utf8');
  const script = /```javascript\n(\/\/ crm-hub: posts each Google Forms response[\s\S]*?)```/.exec(docs)?.[1];
  expect(script, 'the Apps Script block in docs/connectors/forms.md').toBeDefined();
  const posted: { url: string; options: { method: string; contentType: string; payload: string; headers: Record<string, string> } }[] = [];
  runInNewContext(`${script}\n${call}`, {
    PropertiesService: { getScriptProperties: () => ({ getProperty: (name: string) => properties[name] ?? null }) },
    Utilities: {
      Charset: { UTF_8: 'UTF-8' },
      // Apps Script returns Java bytes (-128..127) and base64-encodes them as unsigned.
      computeHmacSha256Signature: (value: string, key: string, charset: string) => {
        expect(charset).toBe('UTF-8');
        return [...createHmac('sha256', Buffer.from(key, 'utf8')).update(Buffer.from(value, 'utf8')).digest()].map((b) => (b > 127 ? b - 256 : b));
      },
      base64Encode: (bytes: number[]) => Buffer.from(bytes.map((b) => b & 255)).toString('base64'),
    },
    UrlFetchApp: {
      fetch: (url: string, options: (typeof posted)[number]['options']) => {
        posted.push({ url, options });
        return { getResponseCode: () => 202, getContentText: () => '{"accepted":1}' };
      },
    },
    FormApp: { getActiveForm: () => form },
  });
  return posted;
}

function googleForm() {
  const item = (id: number, title: string, type: string, response: unknown) => ({
    getItem: () => ({ getId: () => id, getTitle: () => title, getType: () => ({ toString: () => type }) }),
    getResponse: () => response,
  });
  const response = {
    getId: () => '2_ABaOnudTestResponse01',
    getTimestamp: () => new Date('2026-11-20T09:58:00.000Z'),
    getRespondentEmail: () => 'maria.kuznetsova@example.ru',
    getItemResponses: () => [
      item(101, 'Ваше имя', 'TEXT', 'Мария Кузнецова'),
      item(102, 'Название компании', 'TEXT', 'АО Вектор'),
      item(103, 'Что интересует?', 'CHECKBOX', ['CRM', 'Телефония']),
    ],
  };
  return { getId: () => '1FAIpQLSdTestFormId', getTitle: () => 'Запись на демо', getResponses: () => [response] };
}

describe('form service connectors', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({
      store: 'postgres',
      config: {
        connectors: [
          { id: 'typeform', type: 'typeform', settings: { secret: TYPEFORM_SECRET, forms: { lT4Z3j: { consent: { field: 'readable_ref_legal', policy: 'https://example.com/privacy' } } } } },
          { id: 'webflow', type: 'webflow', settings: { secret: WEBFLOW_SECRET } },
          { id: 'jotform', type: 'jotform', settings: { secret: JOTFORM_SECRET, consent: { field: 'agree' } } },
          { id: 'jotform-limited', type: 'jotform', settings: { secret: JOTFORM_SECRET, rateLimit: { max: 2, windowMs: 60_000 } } },
          { id: 'tilda', type: 'tilda', settings: { secret: TILDA_SECRET, fields: { Comments: 'body' }, consent: { field: 'Checkbox' } } },
          { id: 'google-forms', type: 'google-forms', settings: { secret: GOOGLE_SECRET, fields: { 'Название компании': 'company' } } },
        ],
      },
    });
  });
  afterAll(async () => hub?.close());

  const settle = () => hub.settled();
  const processed = (source: string, sourceId: string) => hub.processed(source, sourceId);
  async function profileBy(kind: 'email' | 'phone', value: string) {
    const found = (await hub.request('GET', `/v1/profiles?${kind}=${encodeURIComponent(value)}`)).json().data as { id: string }[];
    expect(found).toHaveLength(1);
    const profile = await hub.request('GET', `/v1/profiles/${found[0]!.id}`);
    return profile.json() as { id: string; traits: Record<string, unknown>; traitSources: Record<string, { source: string; sourceId: string }> };
  }
  async function timelineOf(profileId: string) {
    return (await hub.request('GET', `/v1/profiles/${profileId}/timeline`)).json().data as Record<string, unknown>[];
  }
  function post(connector: string, payload: string | Buffer, headers: Record<string, string>, query = '') {
    return hub.app!.inject({ method: 'POST', url: `/v1/webhooks/${connector}${query}`, headers, payload });
  }
  const queued = () => hub.connectors.queues[0]!.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
  async function snapshot(kind: 'email' | 'phone', value: string) {
    const profile = await profileBy(kind, value);
    return { counts: await hub.store.counts(), profile, timeline: await timelineOf(profile.id) };
  }

  describe('Typeform', () => {
    const body = fixture('typeform_webhook.json');
    const json = { 'content-type': 'application/json' };

    it('refuses a tampered or unsigned delivery with 401 and queues nothing', async () => {
      const before = await queued();
      const tampered = Buffer.from(body.toString('utf8').replace('laura@example.com', 'mallory@example.com'));
      const res = await post('typeform', tampered, { ...json, 'typeform-signature': TYPEFORM_SIGNATURE });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect((await post('typeform', body, json)).statusCode).toBe(401);
      expect(await queued()).toEqual(before);
    });

    it('turns the fixture, signed with its vector, into a form interaction on Laura’s profile with her consent', async () => {
      const res = await post('typeform', body, { ...json, 'typeform-signature': TYPEFORM_SIGNATURE });
      expect(res.statusCode, res.body).toBe(202);
      expect(res.json()).toEqual({ accepted: 1 });
      await processed('typeform', TYPEFORM_TOKEN);
      await settle();
      const profile = await profileBy('email', 'laura@example.com');
      expect(profile.traits).toEqual({
        firstName: 'Laura',
        personalDataConsent: { granted: true, at: '2018-01-18T18:17:02.000Z', source: 'typeform', formId: 'lT4Z3j', field: 'readable_ref_legal', policy: 'https://example.com/privacy' },
      });
      expect(profile.traitSources['personalDataConsent']).toMatchObject({ source: 'typeform', sourceId: TYPEFORM_TOKEN });
      const [item, ...more] = await timelineOf(profile.id);
      expect(more).toEqual([]);
      expect(item).toMatchObject({ source: 'typeform', sourceId: TYPEFORM_TOKEN, channel: 'form', direction: 'inbound', subject: 'Webhooks example', occurredAt: '2018-01-18T18:17:02.000Z' });
      expect(item!['body']).toContain('Which of these cities is your favorite? London');
      expect(item!['data']).toMatchObject({ formId: 'lT4Z3j', score: 9, fields: { readable_ref_multiple_choice: 'London', readable_ref_picture_choice: ['London', 'Sydney'] } });
    });

    it('changes nothing when the same response is delivered again', async () => {
      const before = await snapshot('email', 'laura@example.com');
      expect((await post('typeform', body, { ...json, 'typeform-signature': TYPEFORM_SIGNATURE })).statusCode).toBe(202);
      await settle();
      expect(await snapshot('email', 'laura@example.com')).toEqual(before);
    });

    it('acknowledges another event type and stores nothing', async () => {
      const other = Buffer.from(JSON.stringify({ event_id: 'x', event_type: 'form_response_partial', form_response: {} }));
      const res = await post('typeform', other, { ...json, 'typeform-signature': `sha256=${createHmac('sha256', TYPEFORM_SECRET).update(other).digest('base64')}` });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ accepted: 0 });
    });
  });

  describe('Webflow', () => {
    const compact = JSON.stringify(JSON.parse(fixture('webflow_form_submission.json').toString('utf8')));
    const signed = (body: string, timestamp = String(Date.now())) => ({
      'content-type': 'application/json',
      'x-webflow-timestamp': timestamp,
      'x-webflow-signature': createHmac('sha256', WEBFLOW_SECRET).update(`${timestamp}:${body}`).digest('hex'),
    });

    it('refuses the fixture’s own (2022) vector as a replay, and a tampered body, with 401', async () => {
      const before = await queued();
      const stale = await post('webflow', compact, { 'content-type': 'application/json', 'x-webflow-timestamp': WEBFLOW_TIMESTAMP, 'x-webflow-signature': WEBFLOW_SIGNATURE });
      expect(stale.statusCode).toBe(401);
      expect(stale.json().detail).toMatch(/more than 5 minutes/);
      const headers = signed(compact);
      expect((await post('webflow', compact.replace('Zaphod', 'Arthur'), headers)).statusCode).toBe(401);
      expect(await queued()).toEqual(before);
    });

    it('turns a fresh signed form_submission into a form interaction with the names from its fields', async () => {
      const res = await post('webflow', compact, signed(compact));
      expect(res.statusCode, res.body).toBe(202);
      await processed('webflow', '6321ca84df3949bfc6752327');
      await settle();
      const profile = await profileBy('email', 'zaphod@heartofgold.ai');
      expect(profile.traits).toEqual({ firstName: 'Zaphod', lastName: 'Beeblebrox' });
      const [item] = await timelineOf(profile.id);
      expect(item).toMatchObject({ source: 'webflow', sourceId: '6321ca84df3949bfc6752327', channel: 'form', subject: 'Contact Us', occurredAt: '2022-09-14T12:35:16.117Z' });
    });

    it('changes nothing when Webflow retries the submission (signed anew)', async () => {
      const before = await snapshot('email', 'zaphod@heartofgold.ai');
      expect((await post('webflow', compact, signed(compact))).statusCode).toBe(202);
      await settle();
      expect(await snapshot('email', 'zaphod@heartofgold.ai')).toEqual(before);
    });
  });

  describe('JotForm', () => {
    const secret = `?secret=${JOTFORM_SECRET}`;

    it('refuses a post without the URL secret or with another, with 401', async () => {
      const { payload, contentType } = jotformBody('6084250982513018400');
      const before = await queued();
      expect((await post('jotform', payload, { 'content-type': contentType })).statusCode).toBe(401);
      expect((await post('jotform', payload, { 'content-type': contentType }, '?secret=jotform-url-secret-00000000')).statusCode).toBe(401);
      expect(await queued()).toEqual(before);
    });

    it('reads a multipart post from rawRequest into a form interaction, the message whole', async () => {
      const { payload, contentType } = jotformBody('6084250982513018472');
      const res = await post('jotform', payload, { 'content-type': contentType }, secret);
      expect(res.statusCode, res.body).toBe(202);
      await processed('jotform', '6084250982513018472');
      await settle();
      const profile = await profileBy('email', 'anna.smirnova@example.ru');
      expect(profile.traits).toMatchObject({ firstName: 'Анна', lastName: 'Смирнова', company: 'ООО «Ромашка»', personalDataConsent: { granted: true, field: 'agree' } });
      expect((await profileBy('phone', '+79123456789')).id).toBe(profile.id);
      const [item] = await timelineOf(profile.id);
      expect(item).toMatchObject({ source: 'jotform', sourceId: '6084250982513018472', subject: 'Заявка на расчёт', body: 'yourMessage: Нужен счёт: 3 лицензии, с доставкой' });
    });

    it('changes nothing when the submission is posted again', async () => {
      const before = await snapshot('email', 'anna.smirnova@example.ru');
      const { payload, contentType } = jotformBody('6084250982513018472');
      expect((await post('jotform', payload, { 'content-type': contentType }, secret)).statusCode).toBe(202);
      await settle();
      expect(await snapshot('email', 'anna.smirnova@example.ru')).toEqual(before);
    });

    it('answers 400 to a body without rawRequest or a broken one, and 415 to JSON', async () => {
      const noRaw = jotformBody('1', { rawRequest: '' });
      expect((await post('jotform', noRaw.payload, { 'content-type': noRaw.contentType }, secret)).statusCode).toBe(400);
      const cut = jotformBody('2');
      expect((await post('jotform', cut.payload.slice(0, 300), { 'content-type': cut.contentType }, secret)).statusCode).toBe(400);
      expect((await post('jotform', cut.payload, { 'content-type': 'multipart/form-data' }, secret)).statusCode).toBe(400);
      expect((await post('jotform', '{"formID":"1"}', { 'content-type': 'application/json' }, secret)).statusCode).toBe(415);
    });

    it('answers 429 past the connector’s rate limit', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        const { payload, contentType } = jotformBody(`70000000000000000${i}`);
        statuses.push((await post('jotform-limited', payload, { 'content-type': contentType }, secret)).statusCode);
      }
      expect(statuses).toEqual([202, 202, 429]);
      await settle();
    });
  });

  describe('Tilda', () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const secret = `?token=${TILDA_SECRET}`;
    const submission = {
      Name: 'Олег Иванов',
      Phone: '+7 (903) 123-45-67',
      Email: 'oleg.ivanov@example.ru',
      Comments: 'Позвоните вечером',
      Checkbox: 'yes',
      tranid: '5123456:4567890123',
      formid: 'form524123456',
      COOKIES: '_ga=GA1.2.1; tildauid=1',
    };

    it('answers Tilda’s test request with 200 ok and stores nothing; without the secret, 401', async () => {
      const before = await queued();
      const res = await post('tilda', 'test=test', form, secret);
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('ok');
      expect((await post('tilda', 'test=test', form)).statusCode).toBe(401);
      expect(await queued()).toEqual(before);
    });

    it('turns an urlencoded submission with the consent box ticked into a form interaction with traits', async () => {
      const res = await post('tilda', new URLSearchParams(submission).toString(), form, secret);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.body).toBe('ok');
      await processed('tilda', submission.tranid);
      await settle();
      const profile = await profileBy('phone', '+79031234567');
      expect(profile.traits).toMatchObject({ fullName: 'Олег Иванов', personalDataConsent: { granted: true, source: 'tilda', formId: 'form524123456', field: 'Checkbox' } });
      const [item] = await timelineOf(profile.id);
      expect(item).toMatchObject({ source: 'tilda', sourceId: submission.tranid, body: 'Позвоните вечером', data: expect.objectContaining({ fields: {} }) });
      expect(JSON.stringify(item)).not.toContain('tildauid');
    });

    it('stores a submission without the consent on the same profile, as an interaction that fills no traits', async () => {
      const { Checkbox: _unticked, ...rest } = submission;
      const withoutConsent = { ...rest, Name: 'Олег', tranid: '5123456:4567890124' };
      expect((await post('tilda', new URLSearchParams(withoutConsent).toString(), form, secret)).statusCode).toBe(200);
      await processed('tilda', withoutConsent.tranid);
      await settle();
      const profile = await profileBy('phone', '+79031234567');
      expect(profile.traits['fullName']).toBe('Олег Иванов');
      expect(profile.traits['personalDataConsent']).toMatchObject({ granted: false, source: 'tilda' });
      expect(profile.traitSources['fullName']).toMatchObject({ sourceId: submission.tranid });
      const timeline = await timelineOf(profile.id);
      expect(timeline).toHaveLength(2);
      expect(timeline.find((i) => i['sourceId'] === withoutConsent.tranid)).toMatchObject({ data: expect.objectContaining({ fields: { Name: 'Олег' }, consent: { granted: false } }) });
    });

    it('changes nothing when a submission is posted again', async () => {
      const before = await snapshot('phone', '+79031234567');
      expect((await post('tilda', new URLSearchParams(submission).toString(), form, secret)).statusCode).toBe(200);
      await settle();
      expect(await snapshot('phone', '+79031234567')).toEqual(before);
    });
  });

  describe('Google Forms', () => {
    const properties = { HUB_URL: 'https://hub.example.ru/v1/webhooks/google-forms', HUB_SECRET: GOOGLE_SECRET };
    const send = (request: ReturnType<typeof runAppsScript>[number], payload = request.options.payload) =>
      hub.app!.inject({
        method: 'POST',
        url: new URL(request.url).pathname,
        headers: { 'content-type': request.options.contentType, ...request.options.headers },
        payload: Buffer.from(payload, 'utf8'),
      });

    it('takes what the documented Apps Script posts on submit, signed with the shared secret', async () => {
      const [request, ...more] = runAppsScript('onFormSubmit({ source: FormApp.getActiveForm(), response: FormApp.getActiveForm().getResponses()[0] });', googleForm(), properties);
      expect(more).toEqual([]);
      const res = await send(request!);
      expect(res.statusCode, res.body).toBe(202);
      await processed('google-forms', '2_ABaOnudTestResponse01');
      await settle();
      const profile = await profileBy('email', 'maria.kuznetsova@example.ru');
      expect(profile.traits).toEqual({ fullName: 'Мария Кузнецова', company: 'АО Вектор' });
      const [item] = await timelineOf(profile.id);
      expect(item).toMatchObject({ source: 'google-forms', subject: 'Запись на демо', body: 'Что интересует? CRM, Телефония', occurredAt: '2026-11-20T09:58:00.000Z' });
    });

    it('refuses a tampered post with 401, and changes nothing when resendAll posts the response again', async () => {
      const before = await snapshot('email', 'maria.kuznetsova@example.ru');
      const [request] = runAppsScript('resendAll();', googleForm(), properties);
      expect((await send(request!, request!.options.payload.replace('АО Вектор', 'АО Ветер'))).statusCode).toBe(401);
      expect((await send(request!)).statusCode).toBe(202);
      await settle();
      expect(await snapshot('email', 'maria.kuznetsova@example.ru')).toEqual(before);
    });

    it('stops with a clear error when the script properties are not set', () => {
      expect(() => runAppsScript('resendAll();', googleForm(), {})).toThrow(/HUB_URL and HUB_SECRET/);
    });
  });

  it('failed no event along the way', async () => {
    await settle();
    expect(await hub.connectors.queues[0]!.getJobCounts('failed')).toEqual({ failed: 0 });
    expect(await hub.ingest.queue.getJobCounts('failed')).toEqual({ failed: 0 });
  });
});
