import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { HubError } from '../../core/errors.js';
import { defineConnector, type WebhookRequest } from '../connector.js';
import { FormServiceSettings, type AnswerKind } from './fields.js';
import { ensure, header, hmacSha256, safeEqual } from './intake.js';
import { formServiceMapping, prepareSubmission, submissionEvent, type Answer, type Submission } from './submission.js';

const Settings = Type.Object(
  {
    secret: Type.String({ minLength: 16, description: 'the secret the form’s Apps Script signs each response with (script property HUB_SECRET); use ${ENV_VAR}' }),
    ...FormServiceSettings,
  },
  { additionalProperties: false },
);

/** The header the documented Apps Script (docs/connectors/forms.md) signs its posts in. */
export const GOOGLE_FORMS_SIGNATURE_HEADER = 'x-crm-hub-signature';

// getResponse(): a string, a list (checkboxes; a grid's rows), or a list of lists (a checkbox grid);
// an unanswered grid row is null.
const Cell = Type.Union([Type.String(), Type.Null()]);
const ItemResponse = Type.Union([Type.String(), Type.Null(), Type.Array(Type.Union([Cell, Type.Array(Cell)]))]);

// What the documented Apps Script posts: the script is ours, so this shape is a contract, not a guess.
const Delivery = Compile(
  Type.Object({
    formId: Type.String({ minLength: 1, maxLength: 200 }),
    formTitle: Type.Optional(Type.String()),
    responseId: Type.String({ minLength: 1, maxLength: 400 }),
    submittedAt: Type.Optional(Type.String()),
    respondentEmail: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    answers: Type.Array(
      Type.Object({
        id: Type.Optional(Type.Union([Type.String(), Type.Number()])),
        title: Type.String(),
        type: Type.Optional(Type.String()),
        response: ItemResponse,
      }),
      { maxItems: 1000 },
    ),
  }),
);

// FormApp.ItemType names (https://developers.google.com/apps-script/reference/forms/item-type).
function kindOf(type: string | undefined): AnswerKind {
  switch (type) {
    case 'TEXT':
    case 'PARAGRAPH_TEXT':
    case undefined:
      return 'text';
    case 'DATE':
    case 'DATETIME':
    case 'TIME':
    case 'DURATION':
      return 'date';
    case 'FILE_UPLOAD':
      return 'file';
    case 'SCALE':
    case 'RATING':
      return 'number';
    default:
      return 'choice';
  }
}

/** Turns the Apps Script's post into a submission. A grid's answer (one row per line) is kept row by row as "a; b". */
export function googleFormsSubmission(body: unknown, receivedAt: string): Submission {
  const delivery = ensure(Delivery, body, 'a Google Forms response from the crm-hub Apps Script');
  const answers: Answer[] = [];
  if (delivery.respondentEmail) {
    // Collected by the form itself ("Collect email addresses"): verified by Google, the best identifier there is.
    answers.push({ key: 'respondentEmail', aliases: [], label: 'Email', kind: 'email', value: delivery.respondentEmail });
  }
  for (const item of delivery.answers) {
    const { response } = item;
    if (response === null) continue;
    const value =
      typeof response === 'string'
        ? response
        : response.flatMap((row) => (row === null ? [] : Array.isArray(row) ? [row.filter((v): v is string => v !== null).join('; ')] : [row]));
    answers.push({ key: item.title || String(item.id ?? 'answer'), aliases: item.id === undefined ? [] : [String(item.id)], label: item.title, kind: kindOf(item.type), value });
  }
  return {
    formId: delivery.formId,
    ...(delivery.formTitle ? { formTitle: delivery.formTitle } : {}),
    submissionId: delivery.responseId,
    ...(delivery.submittedAt ? { submittedAt: delivery.submittedAt } : {}),
    receivedAt,
    answers,
    data: { service: 'google-forms' },
  };
}

/** `X-Crm-Hub-Signature: sha256=<base64 HMAC-SHA256 of the raw body>`, as the Apps Script computes it. Throws UNAUTHORIZED. */
export function verifyGoogleForms(secret: string, request: Pick<WebhookRequest, 'headers' | 'rawBody'>): void {
  const given = header(request, GOOGLE_FORMS_SIGNATURE_HEADER);
  if (!given) throw new HubError('UNAUTHORIZED', `missing ${GOOGLE_FORMS_SIGNATURE_HEADER}: post through the Apps Script in docs/connectors/forms.md`);
  if (!given.startsWith('sha256=') || !safeEqual(given.slice('sha256='.length), hmacSha256(secret, request.rawBody, 'base64'))) {
    throw new HubError('UNAUTHORIZED', `${GOOGLE_FORMS_SIGNATURE_HEADER} does not match the body`);
  }
}

/**
 * Google Forms responses. Google Forms has no webhooks: an installable "On form submit" Apps
 * Script trigger (docs/connectors/forms.md) posts each response, signed with a shared secret.
 * The response id is the idempotency key.
 */
export const googleFormsConnector = defineConnector({
  type: 'google-forms',
  version: 1,
  description: 'Google Forms responses, posted and signed by an Apps Script trigger',
  settingsSchema: Settings,
  mappings: [formServiceMapping('google-forms', 'Google Forms')],
  webhook: {
    verify(ctx, request) {
      verifyGoogleForms(ctx.settings.secret, request);
    },
    accept(_ctx, request) {
      if (request.method !== 'POST' || request.body === undefined) throw new HubError('VALIDATION', 'the Apps Script posts a JSON body');
      return { events: [submissionEvent(googleFormsSubmission(request.body, new Date().toISOString()))] };
    },
  },
  prepare: prepareSubmission('google-forms'),
});
