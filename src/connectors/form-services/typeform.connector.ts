import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { HubError } from '../../core/errors.js';
import { defineConnector, type WebhookRequest } from '../connector.js';
import { FormServiceSettings, type AnswerKind } from './fields.js';
import { ensure, header, hmacSha256, own, safeEqual } from './intake.js';
import { formServiceMapping, prepareSubmission, submissionEvent, type Answer, type AnswerValue, type Submission } from './submission.js';

const Settings = Type.Object(
  {
    secret: Type.String({ minLength: 16, description: 'the secret set on the Typeform webhook (it signs each delivery: Typeform-Signature); use ${ENV_VAR}' }),
    ...FormServiceSettings,
  },
  { additionalProperties: false },
);

const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);
// Only what is read is required; Typeform adds answer types and properties over time.
const Delivery = Compile(
  Type.Object({
    event_id: Type.Optional(Type.String()),
    event_type: Type.String(),
    form_response: Type.Object({
      form_id: Type.String({ minLength: 1, maxLength: 200 }),
      token: Type.String({ minLength: 1, maxLength: 400 }),
      submitted_at: Type.Optional(Type.String()),
      landed_at: Type.Optional(Type.String()),
      hidden: Type.Optional(Type.Record(Type.String(), Type.Union([Scalar, Type.Null()]))),
      calculated: Type.Optional(Type.Object({ score: Type.Optional(Type.Number()) })),
      variables: Type.Optional(Type.Array(Type.Object({ key: Type.String(), type: Type.String() }))),
      definition: Type.Optional(
        Type.Object({
          title: Type.Optional(Type.String()),
          fields: Type.Optional(Type.Array(Type.Object({ id: Type.String(), title: Type.Optional(Type.String()), type: Type.Optional(Type.String()), ref: Type.Optional(Type.String()) }))),
        }),
      ),
      answers: Type.Optional(Type.Array(Type.Object({ type: Type.String(), field: Type.Object({ id: Type.String(), type: Type.Optional(Type.String()), ref: Type.Optional(Type.String()) }) }), { maxItems: 1000 })),
    }),
  }),
);

const KIND: Record<string, AnswerKind> = {
  text: 'text',
  email: 'email',
  phone_number: 'phone',
  choice: 'choice',
  choices: 'choice',
  number: 'number',
  boolean: 'boolean',
  date: 'date',
  url: 'url',
  file_url: 'file',
  payment: 'other',
};

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * An answer's value by its type (https://www.typeform.com/developers/webhooks/example-payload/):
 * the value sits under a key named like the type; choices carry labels and an "other" text.
 */
export function typeformValue(answer: Record<string, unknown>): AnswerValue | undefined {
  const type = String(answer['type']);
  const raw = answer[type];
  if (type === 'choice') {
    const choice = record(raw);
    const label = choice?.['label'] ?? choice?.['other'];
    return typeof label === 'string' ? label : undefined;
  }
  if (type === 'choices') {
    const choices = record(raw);
    const labels = Array.isArray(choices?.['labels']) ? (choices['labels'] as unknown[]).filter((l): l is string => typeof l === 'string') : [];
    const other = choices?.['other'];
    return typeof other === 'string' && other !== '' ? [...labels, other] : labels;
  }
  if (type === 'payment') {
    const payment = record(raw);
    const amount = payment?.['amount'];
    return typeof amount === 'string' || typeof amount === 'number' ? `${amount}${payment?.['success'] === false ? ' (not paid)' : ''}` : undefined;
  }
  if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return raw;
  // A type this connector does not know yet: kept as its JSON rather than lost.
  return raw === undefined || raw === null ? undefined : JSON.stringify(raw);
}

/** Turns a Typeform `form_response` delivery into a submission; answers are linked to their question by field id. */
export function typeformSubmission(body: unknown, receivedAt: string): Submission {
  const delivery = ensure(Delivery, body, 'a Typeform webhook delivery');
  const response = delivery.form_response;
  const questions = new Map((response.definition?.fields ?? []).map((f) => [f.id, f]));
  const answers: Answer[] = [];
  for (const raw of response.answers ?? []) {
    const value = typeformValue(raw as unknown as Record<string, unknown>);
    if (value === undefined) continue;
    const question = questions.get(raw.field.id);
    const ref = raw.field.ref ?? question?.ref;
    const fieldType = raw.field.type ?? question?.type;
    // short_text/long_text answers are "text"; a "legal" or "yes_no" answer is a boolean, not free text.
    const kind = KIND[raw.type] ?? 'other';
    answers.push({
      key: ref ?? raw.field.id,
      aliases: ref ? [raw.field.id] : [],
      label: question?.title ?? ref ?? raw.field.id,
      kind: kind === 'text' && fieldType !== undefined && !/text/.test(fieldType) ? 'other' : kind,
      value,
    });
  }
  // Hidden fields are what the site put in the form's URL (#email=...&utm_source=...).
  for (const [name, value] of Object.entries(response.hidden ?? {})) {
    if (value !== null) answers.push({ key: name, aliases: [], label: name, kind: 'hidden', value });
  }
  const variables = Object.fromEntries(
    (response.variables ?? []).map((v) => [v.key, (v as unknown as Record<string, unknown>)[v.type]]).filter(([, value]) => value !== undefined),
  );
  return {
    formId: response.form_id,
    ...(response.definition?.title ? { formTitle: response.definition.title } : {}),
    submissionId: response.token,
    ...(response.submitted_at ? { submittedAt: response.submitted_at } : {}),
    receivedAt,
    answers,
    data: {
      service: 'typeform',
      ...(delivery.event_id ? { eventId: delivery.event_id } : {}),
      ...(response.landed_at ? { landedAt: response.landed_at } : {}),
      ...(response.calculated?.score !== undefined ? { score: response.calculated.score } : {}),
      ...(Object.keys(variables).length > 0 ? { variables } : {}),
    },
  };
}

/** `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>`; base64, not hex. Throws UNAUTHORIZED. */
export function verifyTypeform(secret: string, request: Pick<WebhookRequest, 'headers' | 'rawBody'>): void {
  const given = header(request, 'typeform-signature');
  if (!given) throw new HubError('UNAUTHORIZED', 'missing Typeform-Signature (set a secret on the Typeform webhook)');
  if (!given.startsWith('sha256=') || !safeEqual(given.slice('sha256='.length), hmacSha256(secret, request.rawBody, 'base64'))) {
    throw new HubError('UNAUTHORIZED', 'Typeform-Signature does not match the body');
  }
}

/**
 * Typeform responses (`form_response` webhooks), signed with the webhook's secret. Answers become
 * identifiers and traits by their type (email, phone_number), the config (`fields`, by ref, field
 * id or question) or a guess from the question; the response token is the idempotency key.
 */
export const typeformConnector = defineConnector({
  type: 'typeform',
  version: 1,
  description: 'Typeform form responses (signed webhooks)',
  settingsSchema: Settings,
  mappings: [formServiceMapping('typeform', 'Typeform')],
  webhook: {
    verify(ctx, request) {
      verifyTypeform(ctx.settings.secret, request);
    },
    accept(ctx, request) {
      if (request.method !== 'POST' || request.body === undefined) throw new HubError('VALIDATION', 'Typeform posts a JSON body');
      const eventType = own(request.body, 'event_type');
      if (eventType !== 'form_response') {
        ctx.log.info({ eventType }, 'ignoring a Typeform event that is not a form response');
        return { events: [] };
      }
      return { events: [submissionEvent(typeformSubmission(request.body, new Date().toISOString()))] };
    },
  },
  prepare: prepareSubmission('typeform'),
});
