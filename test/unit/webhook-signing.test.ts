import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { isValidSecret, matchesEvent, newSecret, payloadOf, signedHeaders } from '../../src/core/events/signing.js';

const vectors = JSON.parse(readFileSync('/work/shared/fixtures/signature_conventions_vectors.json', 'utf8')) as {
  standard_webhooks: { secret: string; 'webhook-id': string; 'webhook-timestamp': string; raw_body: string; 'expected_webhook-signature': string };
};

describe('outbound webhook signing', () => {
  it('signs the official Standard Webhooks vector', () => {
    const v = vectors.standard_webhooks;
    const headers = signedHeaders(v.secret, v['webhook-id'], v.raw_body, new Date(Number(v['webhook-timestamp']) * 1000));
    expect(headers).toEqual({ 'webhook-id': v['webhook-id'], 'webhook-timestamp': v['webhook-timestamp'], 'webhook-signature': v['expected_webhook-signature'] });
  });

  it('makes headers the standardwebhooks library verifies, and a changed body fails', () => {
    const secret = newSecret();
    expect(isValidSecret(secret)).toBe(true);
    const body = JSON.stringify({ type: 'profile.created', data: { traits: { firstName: 'Иван' } } });
    const headers = signedHeaders(secret, 'evt_1', body, new Date());
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(secret).verify(body.replace('Иван', 'Пётр'), headers)).toThrow();
    expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow();
  });

  it('accepts only whsec_ secrets of 24 to 64 bytes', () => {
    expect(isValidSecret(vectors.standard_webhooks.secret)).toBe(true);
    expect(isValidSecret('whsec_' + Buffer.alloc(16).toString('base64'))).toBe(false);
    expect(isValidSecret('whsec_' + Buffer.alloc(65).toString('base64'))).toBe(false);
    expect(isValidSecret('secret')).toBe(false);
    expect(isValidSecret('whsec_не-base64-ключ-совсем-нет')).toBe(false);
  });

  it('matches exact types, families and everything', () => {
    expect(matchesEvent(['profile.created'], 'profile.created')).toBe(true);
    expect(matchesEvent(['profile.created'], 'profile.updated')).toBe(false);
    expect(matchesEvent(['alert.*'], 'alert.big-order')).toBe(true);
    expect(matchesEvent(['alert.*'], 'alerts.x')).toBe(false);
    expect(matchesEvent(['profile.*'], 'interaction.created')).toBe(false);
    expect(matchesEvent(['*'], 'interaction.created')).toBe(true);
  });

  it('puts the profile id into the payload data', () => {
    expect(payloadOf({ id: '7', type: 'profile.merged', profileId: 'p1', data: { survivorId: 'p1', mergedId: 'p2' }, createdAt: '2026-11-27T10:00:00.000Z' })).toEqual({
      type: 'profile.merged',
      timestamp: '2026-11-27T10:00:00.000Z',
      data: { survivorId: 'p1', mergedId: 'p2', profileId: 'p1' },
    });
  });
});
