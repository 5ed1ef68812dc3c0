import { createHash, createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';

const fixtures = new URL('../../../shared/fixtures/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, fixtures), 'utf8').split('\n');

const TWILIO_TOKEN = 'twilio-auth-token-0123456789';
const TWILIO_URL = 'https://crm.example.com/v1/webhooks/twilio';
const MANGO = { apiKey: 'qwerty123', apiSalt: 'test-salt' };
const ZADARMA_SECRET = 'zadarma_test_secret';
const VONAGE_SECRET = 'vonage-signature-secret-0123456789';
const PBX_SECRET = 'asterisk-sidecar-secret-0123';

// The same signatures the providers compute, written out here from their documented recipes.
const twilioSign = (url: string, params: URLSearchParams) =>
  createHmac('sha1', TWILIO_TOKEN)
    .update([...params.keys()].sort().reduce((acc, k) => acc + k + (params.get(k) ?? ''), url))
    .digest('base64');
const mangoSign = (json: string) => createHash('sha256').update(MANGO.apiKey + json + MANGO.apiSalt).digest('hex');
function vonageJwt(raw: string, claims: Record<string, unknown> = {}): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ iat: Math.floor(Date.now() / 1000), jti: randomUUID(), payload_hash: createHash('sha256').update(raw).digest('hex'), ...claims });
  return `${head}.${body}.${createHmac('sha256', VONAGE_SECRET).update(`${head}.${body}`).digest('base64url')}`;
}

const twilioStatus = fixture('twilio_voice_status.txt').find((l) => l.startsWith('Called=')) ?? '';
const mangoLines = fixture('mango_events_call.txt').filter((l) => l.startsWith('vpbx_api_key='));
const zadarmaLines = fixture('zadarma_notify_end.txt');
const zadarmaBody = zadarmaLines.find((l) => l.startsWith('event=')) ?? '';
const zadarmaSignature = /Signature: (\S+)/.exec(zadarmaLines.find((l) => l.startsWith('# Header')) ?? '')?.[1] ?? '';
const vonageInbound = fixture('vonage_voice_event_ringing_inbound.txt')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l.replace(/([{,]\s*)([A-Za-z_]+):/g, '$1"$2":').replace(/'/g, '"')) as Record<string, unknown>);

describe('telephony connectors end to end', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub({
      store: 'postgres',
      config: {
        rateLimit: { publicMax: 10_000 },
        connectors: [
          { id: 'twilio', type: 'twilio', settings: { authToken: TWILIO_TOKEN, publicUrl: TWILIO_URL, companyNumbers: ['+1 (510) 757-1675'] } },
          { id: 'mango', type: 'mango', settings: { ...MANGO, companyNumbers: ['8 (495) 540-44-44'] } },
          { id: 'zadarma', type: 'zadarma', settings: { apiSecret: ZADARMA_SECRET, companyNumbers: ['+7 495 123-45-67'] } },
          { id: 'vonage', type: 'vonage', settings: { signatureSecret: VONAGE_SECRET, companyNumbers: ['442038297050'] } },
          { id: 'pbx', type: 'asterisk', settings: { signature: { scheme: 'hmac-sha256', secret: PBX_SECRET, prefix: 'sha256=' }, companyNumbers: ['74951234567'], timeZoneOffset: '+03:00' } },
        ],
      },
    });
  });
  afterAll(async () => hub?.close());

  const settle = () => hub.settled();
  const processed = (source: string, sourceId: string) => hub.processed(source, sourceId);
  async function profilesWithPhone(phone: string): Promise<{ id: string }[]> {
    return (await hub.request('GET', `/v1/profiles?phone=${encodeURIComponent(phone)}`)).json().data;
  }
  async function timelineOf(phone: string) {
    const [profile, ...more] = await profilesWithPhone(phone);
    expect(more).toEqual([]);
    expect(profile).toBeDefined();
    return (await hub.request('GET', `/v1/profiles/${profile!.id}/timeline`)).json().data as Record<string, unknown>[];
  }
  function post(connector: string, body: string, type: string, headers: Record<string, string>, path = '') {
    return hub.app!.inject({ method: 'POST', url: `/v1/webhooks/${connector}${path}`, headers: { 'content-type': type, ...headers }, payload: body });
  }
  function postTwilio(params: URLSearchParams, signature = twilioSign(TWILIO_URL, params)) {
    return post('twilio', params.toString(), 'application/x-www-form-urlencoded', { 'x-twilio-signature': signature });
  }
  const queued = () => hub.connectors.queues[0]!.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');

  describe('Twilio', () => {
    it('refuses a tampered status callback with 401 and queues nothing', async () => {
      const before = await queued();
      const params = new URLSearchParams(twilioStatus);
      const signature = twilioSign(TWILIO_URL, params);
      params.set('CallDuration', '4200');
      const res = await postTwilio(params, signature);
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(await queued()).toEqual(before);
    });

    it('turns the status callback fixture into a call on the callee’s profile, never on the company’s number', async () => {
      const res = await postTwilio(new URLSearchParams(twilioStatus));
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/xml');
      expect(res.body).toBe('<?xml version="1.0" encoding="UTF-8"?><Response></Response>');
      await processed('twilio', 'CAf19604a3eec3e63d157870c5f7f3b3a0');
      await settle();
      const timeline = await timelineOf('+15005550006');
      expect(timeline).toEqual([
        expect.objectContaining({ source: 'twilio', sourceId: 'CAf19604a3eec3e63d157870c5f7f3b3a0', channel: 'call', direction: 'outbound', status: 'answered', durationSec: 42, occurredAt: '1989-07-20T18:30:43.000Z' }),
      ]);
      expect(await profilesWithPhone('+15107571675')).toEqual([]);
    });

    it('changes nothing when the same callback is delivered again', async () => {
      const before = { counts: await hub.store.counts(), timeline: await timelineOf('+15005550006') };
      expect((await postTwilio(new URLSearchParams(twilioStatus))).statusCode).toBe(200);
      await settle();
      expect(await hub.store.counts()).toEqual(before.counts);
      expect(await timelineOf('+15005550006')).toEqual(before.timeline);
    });

    it('ends in one answered call when the final callback arrives before an earlier one', async () => {
      const call = { CallSid: 'CA00000000000000000000000000000001', AccountSid: 'AC1', From: '+79161110001', To: '+15107571675', Direction: 'inbound', CallbackSource: 'call-progress-events' };
      const completed = new URLSearchParams({ ...call, CallStatus: 'completed', SequenceNumber: '2', CallDuration: '60', Timestamp: 'Fri, 20 Nov 2026 10:16:00 +0000' });
      const ringing = new URLSearchParams({ ...call, CallStatus: 'ringing', SequenceNumber: '0', Timestamp: 'Fri, 20 Nov 2026 10:14:50 +0000' });
      expect((await postTwilio(completed)).statusCode).toBe(200);
      await processed('twilio', call.CallSid);
      await settle();
      expect((await postTwilio(ringing)).statusCode).toBe(200);
      await settle();
      const timeline = await timelineOf('+79161110001');
      expect(timeline).toEqual([expect.objectContaining({ sourceId: call.CallSid, direction: 'inbound', status: 'answered', durationSec: 60, occurredAt: '2026-11-20T10:14:50.000Z' })]);
    });
  });

  describe('Mango Office', () => {
    it('merges the fixture’s events, posted in reverse order to {url}/events/call, into one answered call', async () => {
      for (const line of [...mangoLines].reverse()) {
        const res = await post('mango', line, 'application/x-www-form-urlencoded', {}, '/events/call');
        expect(res.statusCode).toBe(200);
      }
      await processed('mango', '232wc3e3w3s222');
      await settle();
      const record = (await hub.request('GET', '/v1/records/mango/232wc3e3w3s222')).json();
      const timeline = (await hub.request('GET', `/v1/profiles/${record.profileId}/timeline`)).json().data;
      expect(timeline).toEqual([expect.objectContaining({ sourceId: '232wc3e3w3s222', direction: 'outbound', status: 'answered', durationSec: 20 })]);
      // The caller was the company's line; it is no one's identifier.
      expect(await profilesWithPhone('+74955404444')).toEqual([]);
    });

    it('puts an inbound call on the caller’s profile, and refuses a wrong sign', async () => {
      const leg = { entry_id: 'E-INT-1', call_id: 'L1', location: 'abonent', from: { number: '79162220002' }, to: { extension: '101', line_number: '74955404444' } };
      const send = (json: string, sign = mangoSign(json)) => post('mango', new URLSearchParams({ vpbx_api_key: MANGO.apiKey, sign, json }).toString(), 'application/x-www-form-urlencoded', {}, '/events/call');
      const appeared = JSON.stringify({ ...leg, timestamp: '1795163700', seq: '1', call_state: 'Appeared' });
      expect((await send(appeared, mangoSign(`${appeared} `))).statusCode).toBe(401);
      for (const [seq, state, at] of [['1', 'Appeared', '1795163700'], ['2', 'Connected', '1795163705'], ['3', 'Disconnected', '1795163800']] as const) {
        expect((await send(JSON.stringify({ ...leg, timestamp: at, seq, call_state: state }))).statusCode).toBe(200);
      }
      await processed('mango', 'E-INT-1');
      await settle();
      expect(await timelineOf('+79162220002')).toEqual([expect.objectContaining({ direction: 'inbound', status: 'answered', durationSec: 95 })]);
    });
  });

  describe('Zadarma', () => {
    it('answers the zd_echo check', async () => {
      const res = await hub.app!.inject({ method: 'GET', url: '/v1/webhooks/zadarma?zd_echo=9f8e7d6c' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.body).toBe('9f8e7d6c');
    });

    it('refuses the fixture with a wrong Signature, and turns it with its own into a call on the caller’s profile', async () => {
      const wrong = await post('zadarma', zadarmaBody, 'application/x-www-form-urlencoded', { signature: 'nDcdEDB4l46vObvO29QFTBqtfNM=' });
      expect(wrong.statusCode).toBe(401);
      const res = await post('zadarma', zadarmaBody, 'application/x-www-form-urlencoded', { signature: zadarmaSignature });
      expect(res.statusCode).toBe(200);
      await processed('zadarma', 'in_0a1b2c3d4e5f');
      await settle();
      expect(await timelineOf('+79161234567')).toEqual([expect.objectContaining({ sourceId: 'in_0a1b2c3d4e5f', direction: 'inbound', status: 'answered', durationSec: 42 })]);
      expect(await profilesWithPhone('+74951234567')).toEqual([]);
    });
  });

  describe('Vonage', () => {
    const send = (event: object, token?: (raw: string) => string) => {
      const raw = JSON.stringify(event);
      return post('vonage', raw, 'application/json', { authorization: `Bearer ${(token ?? vonageJwt)(raw)}` });
    };

    it('refuses an expired token', async () => {
      const res = await send(vonageInbound[0]!, (raw) => vonageJwt(raw, { iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }));
      expect(res.statusCode).toBe(401);
    });

    it('turns the inbound fixture and the call’s end into one answered call on the caller’s profile', async () => {
      for (const event of vonageInbound) expect((await send(event)).statusCode).toBe(200);
      await processed('vonage', 'CON-8f5a100c-fbce-4218-8d4b-16341335bcd6');
      await settle();
      expect(await timelineOf('+441234567890')).toEqual([expect.objectContaining({ direction: 'inbound', status: 'ringing' })]);
      const later = { ...vonageInbound[0]!, status: 'completed', timestamp: '2021-03-29T21:21:35.582Z', start_time: '2021-03-29T21:20:05.582Z', duration: '85' };
      expect((await send(later)).statusCode).toBe(200);
      await settle();
      expect(await timelineOf('+441234567890')).toEqual([expect.objectContaining({ sourceId: 'CON-8f5a100c-fbce-4218-8d4b-16341335bcd6', status: 'answered', durationSec: 85 })]);
      expect(await profilesWithPhone('+442038297050')).toEqual([]);
    });
  });

  describe('Asterisk', () => {
    it('turns a signed AMI Cdr event into a call on the caller’s profile', async () => {
      const cdr = ['Event: Cdr', 'Source: 89163330003', 'Destination: 74951234567', 'StartTime: 2026-11-20 13:15:00', 'EndTime: 2026-11-20 13:16:43', 'BillableSeconds: 95', 'Disposition: ANSWERED', 'UniqueID: 1795163700.42'].join('\r\n');
      const sign = (body: string) => `sha256=${createHmac('sha256', PBX_SECRET).update(body).digest('hex')}`;
      expect((await post('pbx', cdr, 'text/plain', { 'x-signature': sign(`${cdr}\r\n`) })).statusCode).toBe(401);
      expect((await post('pbx', cdr, 'text/plain', { 'x-signature': sign(cdr) })).statusCode).toBe(202);
      await processed('asterisk', '1795163700.42');
      await settle();
      expect(await timelineOf('+79163330003')).toEqual([expect.objectContaining({ direction: 'inbound', status: 'answered', durationSec: 95, occurredAt: '2026-11-20T10:15:00.000Z' })]);
    });
  });

  it('reports every telephony connector healthy, with nothing failed', async () => {
    const list = (await hub.request('GET', '/v1/connectors')).json().data as { id: string; status: string; stats: { failed: number } }[];
    expect(list.map((c) => [c.id, c.status, c.stats.failed])).toEqual([
      ['twilio', 'ok', 0],
      ['mango', 'ok', 0],
      ['zadarma', 'ok', 0],
      ['vonage', 'ok', 0],
      ['pbx', 'ok', 0],
    ]);
  });
});
