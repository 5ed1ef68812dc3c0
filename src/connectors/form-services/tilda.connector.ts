import { createHash } from 'node:crypto';
import { Type } from 'typebox';
import { HubError } from '../../core/errors.js';
import { defineConnector, type WebhookReply } from '../connector.js';
import { FormServiceSettings } from './fields.js';
import { RateLimitSettings, checkUrlSecret, mediaType, own, parseMultipart, takeRateLimit } from './intake.js';
import { answerValue, formServiceMapping, prepareSubmission, submissionEvent, type Answer, type Submission } from './submission.js';

const Settings = Type.Object(
  {
    secret: Type.String({ minLength: 16, description: 'Tilda signs nothing: the webhook URL must end in ?secret=<this> (or ?token=); use ${ENV_VAR}' }),
    rateLimit: RateLimitSettings,
    ...FormServiceSettings,
  },
  { additionalProperties: false },
);

// Tilda's own fields beside the form's: the request id, the form's block id and name, and (when
// "send cookies" is on) the visitor's whole Cookie header, which is no business of a CRM.
const SYSTEM_FIELDS = new Set(['tranid', 'formid', 'formname', 'cookies', 'test']);

/** What the hub answers every Tilda call: Tilda counts anything but a quick 200 as a failed delivery. */
export const TILDA_OK: WebhookReply = { status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok' };

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : typeof value === 'number' ? String(value) : undefined;
}

/** True for the request Tilda sends when the webhook is added (`test=test`), which must get a 200 and store nothing. */
export function isTildaTest(body: unknown): boolean {
  return own(body, 'test') === 'test' && own(body, 'tranid') === undefined;
}

/**
 * Turns a Tilda form post (urlencoded, JSON or multipart: the field names are those set in the
 * form builder) into a submission. `tranid` identifies the request; without it (an old or proxied
 * post) the hash of the body does, so the same post twice is still one submission.
 */
export function tildaSubmission(body: unknown, rawBody: Buffer, receivedAt: string): Submission {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HubError('VALIDATION', 'a Tilda post is a set of named fields');
  const answers: Answer[] = [];
  for (const [name, raw] of Object.entries(body)) {
    if (SYSTEM_FIELDS.has(name.toLowerCase())) continue;
    const value = answerValue(raw);
    if (value === undefined) continue;
    answers.push({ key: name, aliases: [], label: name, kind: Array.isArray(value) ? 'choice' : 'text', value });
  }
  const tranid = text(own(body, 'tranid'));
  const formTitle = text(own(body, 'formname'));
  return {
    formId: text(own(body, 'formid')) ?? 'tilda',
    ...(formTitle ? { formTitle } : {}),
    submissionId: tranid ?? `body-${createHash('sha256').update(rawBody).digest('hex').slice(0, 40)}`,
    receivedAt,
    answers,
    data: { service: 'tilda' },
  };
}

/**
 * Tilda form submissions (Site settings → Forms → Webhook). Tilda signs nothing, so the URL
 * carries a secret and deliveries are rate limited; its test request is answered and ignored.
 * The request id (`tranid`) is the idempotency key.
 */
export const tildaConnector = defineConnector({
  type: 'tilda',
  version: 1,
  description: 'Tilda form submissions (webhook with a secret in the URL)',
  settingsSchema: Settings,
  mappings: [formServiceMapping('tilda', 'Tilda')],
  webhook: {
    verify(ctx, request) {
      takeRateLimit(ctx, ctx.settings.rateLimit);
      checkUrlSecret('Tilda', ctx.settings.secret, request);
    },
    async accept(ctx, request) {
      if (request.method !== 'POST') throw new HubError('VALIDATION', 'Tilda posts its submissions');
      const body = mediaType(request) === 'multipart/form-data' ? await parseMultipart(request) : request.body;
      if (body === undefined) throw new HubError('VALIDATION', 'post the form fields (urlencoded, JSON or multipart)');
      if (isTildaTest(body)) {
        ctx.log.info('answered the Tilda test request');
        return { events: [], reply: TILDA_OK };
      }
      return { events: [submissionEvent(tildaSubmission(body, request.rawBody, new Date().toISOString()))], reply: TILDA_OK };
    },
  },
  prepare: prepareSubmission('tilda'),
});
