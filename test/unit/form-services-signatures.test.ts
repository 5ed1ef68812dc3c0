import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { WebhookRequest } from '../../src/connectors/connector.js';
import { GOOGLE_FORMS_SIGNATURE_HEADER, verifyGoogleForms } from '../../src/connectors/form-services/google-forms.connector.js';
import { checkUrlSecret, takeRateLimit } from '../../src/connectors/form-services/intake.js';
import { verifyTypeform } from '../../src/connectors/form-services/typeform.connector.js';
import { WEBFLOW_TOLERANCE_MS, verifyWebflow } from '../../src/connectors/form-services/webflow.connector.js';

const fixture = (name: string) => readFileSync(new URL(`../../../shared/fixtures/${name}`, import.meta.url));

// Vectors from typeform_webhook.source and webflow_form_submission.source.
const TYPEFORM_SECRET = 'typeform_test_secret';
const TYPEFORM_SIGNATURE = 'sha256=h2ACgsKp1C4sX2ySLYyyOL2ibgB2Nt0Vdbf9wDbDsm8=';
const WEBFLOW_SECRET = 'webflow_test_client_secret';
const WEBFLOW_TIMESTAMP = 1663849649733;
const WEBFLOW_SIGNATURE = 'fb4e1c5589e159f292de34d4b5f6f1af548c0ef7577c38ff940ea06edc001932';

function tamper(body: Buffer, from: string, to: string): Buffer {
  const text = body.toString('utf8');
  expect(text).toContain(from);
  return Buffer.from(text.replace(from, to), 'utf8');
}

const unauthorized = expect.objectContaining({ code: 'HUB_ERR_UNAUTHORIZED' });

describe('Typeform-Signature', () => {
  const body = fixture('typeform_webhook.json');
  const request = (rawBody: Buffer, signature?: string) => ({ headers: signature === undefined ? {} : { 'typeform-signature': signature }, rawBody });

  it('passes the fixture’s vector over its exact bytes', () => {
    expect(() => verifyTypeform(TYPEFORM_SECRET, request(body, TYPEFORM_SIGNATURE))).not.toThrow();
  });

  it('fails a tampered body, another secret, a hex digest, no sha256= prefix and no header', () => {
    expect(() => verifyTypeform(TYPEFORM_SECRET, request(tamper(body, 'laura@example.com', 'lara@example.com'), TYPEFORM_SIGNATURE))).toThrow(unauthorized);
    expect(() => verifyTypeform('another_secret_of_16', request(body, TYPEFORM_SIGNATURE))).toThrow(unauthorized);
    const hex = `sha256=${createHmac('sha256', TYPEFORM_SECRET).update(body).digest('hex')}`;
    expect(() => verifyTypeform(TYPEFORM_SECRET, request(body, hex))).toThrow(unauthorized);
    expect(() => verifyTypeform(TYPEFORM_SECRET, request(body, TYPEFORM_SIGNATURE.slice('sha256='.length)))).toThrow(unauthorized);
    expect(() => verifyTypeform(TYPEFORM_SECRET, request(body))).toThrow(/missing Typeform-Signature/);
  });
});

describe('x-webflow-signature', () => {
  const pretty = fixture('webflow_form_submission.json');
  // The vector signs the compact JSON of the fixture, as Webflow's sample (JSON.stringify) does.
  const compact = Buffer.from(JSON.stringify(JSON.parse(pretty.toString('utf8'))), 'utf8');
  const request = (rawBody: Buffer, timestamp: number | string = WEBFLOW_TIMESTAMP, signature = WEBFLOW_SIGNATURE) => ({
    headers: { 'x-webflow-timestamp': String(timestamp), 'x-webflow-signature': signature },
    rawBody,
  });

  it('passes the fixture’s vector within five minutes of its timestamp', () => {
    expect(() => verifyWebflow(WEBFLOW_SECRET, request(compact), WEBFLOW_TIMESTAMP + 1000)).not.toThrow();
    expect(() => verifyWebflow(WEBFLOW_SECRET, request(compact), WEBFLOW_TIMESTAMP + WEBFLOW_TOLERANCE_MS)).not.toThrow();
  });

  it('passes the same vector when the body arrived pretty-printed (Webflow signs JSON.stringify of it)', () => {
    expect(() => verifyWebflow(WEBFLOW_SECRET, request(pretty), WEBFLOW_TIMESTAMP)).not.toThrow();
  });

  it('fails a tampered body, a changed timestamp, another secret and missing headers', () => {
    expect(() => verifyWebflow(WEBFLOW_SECRET, request(tamper(compact, 'Zaphod', 'Arthur')), WEBFLOW_TIMESTAMP)).toThrow(unauthorized);
    expect(() => verifyWebflow(WEBFLOW_SECRET, request(compact, WEBFLOW_TIMESTAMP + 1), WEBFLOW_TIMESTAMP)).toThrow(unauthorized);
    expect(() => verifyWebflow('another_secret_of_16', request(compact), WEBFLOW_TIMESTAMP)).toThrow(unauthorized);
    expect(() => verifyWebflow(WEBFLOW_SECRET, { headers: {}, rawBody: compact }, WEBFLOW_TIMESTAMP)).toThrow(/missing x-webflow-timestamp/);
    expect(() => verifyWebflow(WEBFLOW_SECRET, request(compact, 'yesterday'), WEBFLOW_TIMESTAMP)).toThrow(unauthorized);
  });

  it('fails a correctly signed delivery older than five minutes, or as far in the future', () => {
    expect(() => verifyWebflow(WEBFLOW_SECRET, request(compact), WEBFLOW_TIMESTAMP + WEBFLOW_TOLERANCE_MS + 1)).toThrow(/more than 5 minutes/);
    expect(() => verifyWebflow(WEBFLOW_SECRET, request(compact), WEBFLOW_TIMESTAMP - WEBFLOW_TOLERANCE_MS - 1)).toThrow(/more than 5 minutes/);
  });
});

describe('Google Forms signature (the documented Apps Script’s)', () => {
  const secret = 'google_forms_test_secret';
  const body = Buffer.from(JSON.stringify({ formId: 'f', responseId: 'r', answers: [{ title: 'Имя', response: 'Анна' }] }), 'utf8');
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('base64')}`;

  it('passes a base64 HMAC-SHA256 of the UTF-8 body and fails a tampered one or none', () => {
    expect(() => verifyGoogleForms(secret, { headers: { [GOOGLE_FORMS_SIGNATURE_HEADER]: signature }, rawBody: body })).not.toThrow();
    expect(() => verifyGoogleForms(secret, { headers: { [GOOGLE_FORMS_SIGNATURE_HEADER]: signature }, rawBody: tamper(body, 'Анна', 'Анни') })).toThrow(unauthorized);
    expect(() => verifyGoogleForms(secret, { headers: {}, rawBody: body })).toThrow(unauthorized);
  });
});

describe('URL secret of unsigned services (JotForm, Tilda)', () => {
  const secret = 'jotform-url-secret-0123456789';
  const request = (query: Record<string, string>) => ({ query }) as unknown as WebhookRequest;

  it('takes ?secret= or ?token= with the exact value and refuses anything else', () => {
    expect(() => checkUrlSecret('JotForm', secret, request({ secret }))).not.toThrow();
    expect(() => checkUrlSecret('Tilda', secret, request({ token: secret }))).not.toThrow();
    expect(() => checkUrlSecret('JotForm', secret, request({}))).toThrow(/must carry \?secret=/);
    expect(() => checkUrlSecret('JotForm', secret, request({ secret: '' }))).toThrow(unauthorized);
    expect(() => checkUrlSecret('JotForm', secret, request({ secret: `${secret}x` }))).toThrow(unauthorized);
    expect(() => checkUrlSecret('JotForm', secret, request({ secret: secret.slice(0, -1) }))).toThrow(unauthorized);
    expect(() => checkUrlSecret('JotForm', secret, request({ secret: secret.toUpperCase() }))).toThrow(unauthorized);
  });

  it('limits deliveries per window and connector, and starts over in the next window', () => {
    const owner = {};
    const limit = { max: 2, windowMs: 60_000 };
    takeRateLimit(owner, limit, 1_000);
    takeRateLimit(owner, limit, 2_000);
    expect(() => takeRateLimit(owner, limit, 3_000)).toThrow(expect.objectContaining({ code: 'HUB_ERR_RATE_LIMITED', status: 429 }));
    expect(() => takeRateLimit({}, limit, 3_000)).not.toThrow();
    expect(() => takeRateLimit(owner, limit, 61_000)).not.toThrow();
  });
});
