import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { HubError } from '../../core/errors.js';
import { defineConnector, type WebhookRequest } from '../connector.js';
import { FormServiceSettings, type AnswerKind } from './fields.js';
import { ensure, header, hmacSha256, own, safeEqual } from './intake.js';
import { answerValue, formServiceMapping, prepareSubmission, submissionEvent, type Answer, type Submission } from './submission.js';

const Settings = Type.Object(
  {
    secret: Type.String({
      minLength: 16,
      description: 'the OAuth app’s client secret (or the secret of a webhook created through the API): it signs each delivery; use ${ENV_VAR}',
    }),
    ...FormServiceSettings,
  },
  { additionalProperties: false },
);

/** Webflow's advice (https://developers.webflow.com/data/v1.0.0/docs/verifying-webhook-signatures): refuse a timestamp older than 5 minutes. */
export const WEBFLOW_TOLERANCE_MS = 5 * 60_000;

const Delivery = Compile(
  Type.Object({
    triggerType: Type.Literal('form_submission'),
    payload: Type.Object({
      id: Type.String({ minLength: 1, maxLength: 400 }),
      name: Type.Optional(Type.String()),
      siteId: Type.Optional(Type.String()),
      formId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      formElementId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
      submittedAt: Type.Optional(Type.String()),
      data: Type.Record(Type.String(), Type.Unknown()),
      schema: Type.Optional(Type.Array(Type.Object({ fieldName: Type.String(), fieldType: Type.Optional(Type.String()), fieldElementId: Type.Optional(Type.String()) }))),
    }),
  }),
);

function kindOf(fieldType: string | undefined): AnswerKind {
  if (!fieldType) return 'text';
  if (/email/i.test(fieldType)) return 'email';
  if (/phone|tel/i.test(fieldType)) return 'phone';
  if (/checkbox/i.test(fieldType)) return 'boolean';
  if (/select|radio/i.test(fieldType)) return 'choice';
  if (/file/i.test(fieldType)) return 'file';
  return 'text';
}

/** Turns a Webflow `form_submission` into a submission; `payload.schema` tells each field's type and element id. */
export function webflowSubmission(body: unknown, receivedAt: string): Submission {
  const { payload } = ensure(Delivery, body, 'a Webflow form_submission');
  const schema = new Map((payload.schema ?? []).map((s) => [s.fieldName, s]));
  const answers: Answer[] = [];
  for (const [name, raw] of Object.entries(payload.data)) {
    const field = schema.get(name);
    const value = answerValue(raw);
    if (value === undefined) continue;
    answers.push({ key: name, aliases: field?.fieldElementId ? [field.fieldElementId] : [], label: name, kind: kindOf(field?.fieldType), value });
  }
  return {
    formId: payload.formId ?? payload.formElementId ?? payload.name ?? 'webflow',
    ...(payload.name ? { formTitle: payload.name } : {}),
    submissionId: payload.id,
    ...(payload.submittedAt ? { submittedAt: payload.submittedAt } : {}),
    receivedAt,
    answers,
    data: { service: 'webflow', ...(payload.siteId ? { siteId: payload.siteId } : {}), ...(payload.formElementId ? { formElementId: payload.formElementId } : {}) },
  };
}

/**
 * `x-webflow-signature` = hex HMAC-SHA256 of `{x-webflow-timestamp}:{body}`; a timestamp (ms)
 * more than 5 minutes from now is refused. Webflow's own sample signs `JSON.stringify(body)`, so a
 * body that arrived pretty-printed is also checked in its compact form. Throws UNAUTHORIZED.
 */
export function verifyWebflow(secret: string, request: Pick<WebhookRequest, 'headers' | 'rawBody'>, now = Date.now()): void {
  const timestamp = header(request, 'x-webflow-timestamp');
  const given = header(request, 'x-webflow-signature');
  if (!timestamp || !given) throw new HubError('UNAUTHORIZED', 'missing x-webflow-timestamp or x-webflow-signature (only webhooks made by an app or through the API are signed)');
  if (!/^\d{10,16}$/.test(timestamp)) throw new HubError('UNAUTHORIZED', 'x-webflow-timestamp is not a time in milliseconds');
  if (Math.abs(now - Number(timestamp)) > WEBFLOW_TOLERANCE_MS) throw new HubError('UNAUTHORIZED', 'x-webflow-timestamp is more than 5 minutes away: a replay or a wrong clock');
  const raw = request.rawBody.toString('utf8');
  const candidates = [raw];
  try {
    const compact = JSON.stringify(JSON.parse(raw));
    if (compact !== raw) candidates.push(compact);
  } catch {
    // Not JSON: only the raw body can match, and accept() will refuse it anyway.
  }
  const ok = candidates.map((body) => safeEqual(given.toLowerCase(), hmacSha256(secret, `${timestamp}:${body}`, 'hex'))).some(Boolean);
  if (!ok) throw new HubError('UNAUTHORIZED', 'x-webflow-signature does not match the timestamp and body');
}

/**
 * Webflow form submissions (`form_submission` webhooks), signed with the app's client secret.
 * Fields map by name (config `fields`, or a guess: "First Name", "email", "Phone Number"); the
 * submission id (`payload.id`) is the idempotency key.
 */
export const webflowConnector = defineConnector({
  type: 'webflow',
  version: 1,
  description: 'Webflow form submissions (signed webhooks)',
  settingsSchema: Settings,
  mappings: [formServiceMapping('webflow', 'Webflow')],
  webhook: {
    verify(ctx, request) {
      verifyWebflow(ctx.settings.secret, request);
    },
    accept(ctx, request) {
      if (request.method !== 'POST' || request.body === undefined) throw new HubError('VALIDATION', 'Webflow posts a JSON body');
      const trigger = own(request.body, 'triggerType');
      if (trigger !== 'form_submission') {
        ctx.log.info({ trigger }, 'ignoring a Webflow event that is not a form submission');
        return { events: [] };
      }
      return { events: [submissionEvent(webflowSubmission(request.body, new Date().toISOString()))] };
    },
  },
  prepare: prepareSubmission('webflow'),
});
