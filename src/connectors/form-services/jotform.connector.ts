import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { HubError } from '../../core/errors.js';
import { defineConnector } from '../connector.js';
import { FormServiceSettings } from './fields.js';
import { RateLimitSettings, checkUrlSecret, ensure, mediaType, parseMultipart, takeRateLimit, type PostedFields } from './intake.js';
import { formServiceMapping, prepareSubmission, submissionEvent, type Answer, type Submission } from './submission.js';

const Settings = Type.Object(
  {
    secret: Type.String({ minLength: 16, description: 'JotForm signs nothing: the webhook URL must end in ?secret=<this>; use ${ENV_VAR}' }),
    rateLimit: RateLimitSettings,
    ...FormServiceSettings,
  },
  { additionalProperties: false },
);

const Delivery = Compile(
  Type.Object({
    formID: Type.String({ minLength: 1, maxLength: 200 }),
    submissionID: Type.String({ minLength: 1, maxLength: 400 }),
    formTitle: Type.Optional(Type.String()),
    rawRequest: Type.String({ minLength: 2 }),
  }),
);

// rawRequest keys of answers: q<question id>_<unique name> (zulip's JotForm integration reads them the same way).
const QUESTION_KEY = /^q(\d+)_(.+)$/;

function strings(value: Record<string, unknown>, ...keys: string[]): string[] {
  return keys.map((k) => value[k]).filter((v): v is string => typeof v === 'string' && v.trim() !== '').map((v) => v.trim());
}

/** One rawRequest answer as an answer; JotForm's compound fields (name, phone, date, address) are objects of strings. */
function jotformAnswer(key: string, id: string, name: string, raw: unknown): Answer | undefined {
  const base = { key: name, aliases: [key, id], label: name };
  if (typeof raw === 'string') return { ...base, kind: 'text', value: raw };
  if (Array.isArray(raw)) {
    const list = raw.filter((v): v is string => typeof v === 'string');
    return { ...base, kind: 'choice', value: list };
  }
  if (raw === null || typeof raw !== 'object') return undefined;
  const value = raw as Record<string, unknown>;
  if ('first' in value || 'last' in value) {
    const [first] = strings(value, 'first');
    const [middle] = strings(value, 'middle');
    const [last] = strings(value, 'last');
    const full = strings(value, 'prefix', 'first', 'middle', 'last', 'suffix').join(' ');
    return { ...base, kind: 'name', value: full, parts: { ...(first ? { first } : {}), ...(middle ? { middle } : {}), ...(last ? { last } : {}) } };
  }
  if ('full' in value || 'area' in value || 'phone' in value) {
    const [full] = strings(value, 'full');
    return { ...base, kind: 'phone', value: full ?? strings(value, 'country', 'area', 'phone').join(' ') };
  }
  if ('year' in value && 'month' in value && 'day' in value) {
    const [year, month, day] = strings(value, 'year', 'month', 'day');
    return year && month && day ? { ...base, kind: 'date', value: `${year}-${month.padStart(2, '0')}-${day.padStart(2, '0')}` } : undefined;
  }
  // Address, time, matrix and the like: their parts in order, as text.
  return { ...base, kind: 'other', value: Object.values(value).filter((v): v is string => typeof v === 'string' && v.trim() !== '').join(', ') };
}

/**
 * Turns a JotForm webhook post into a submission. The answers come from `rawRequest` (a JSON
 * string keyed by q<id>_<name>); `pretty` ("Label:Value, ...") is never read: it loses any
 * answer with a comma or colon in it. Uploads are listed in rawRequest under the bare name.
 */
export function jotformSubmission(fields: PostedFields, receivedAt: string): Submission {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const delivery = ensure(
    Delivery,
    { formID: first(fields['formID']), submissionID: first(fields['submissionID']), formTitle: first(fields['formTitle']), rawRequest: first(fields['rawRequest']) },
    'a JotForm webhook post (formID, submissionID, rawRequest)',
  );
  let raw: unknown;
  try {
    raw = JSON.parse(delivery.rawRequest);
  } catch (cause) {
    throw new HubError('VALIDATION', 'JotForm rawRequest is not JSON', { cause });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new HubError('VALIDATION', 'JotForm rawRequest is not a JSON object');
  const request = raw as Record<string, unknown>;
  const answers: Answer[] = [];
  const uploads = request['temp_upload'] !== null && typeof request['temp_upload'] === 'object' ? Object.keys(request['temp_upload']) : [];
  for (const [key, value] of Object.entries(request)) {
    const m = QUESTION_KEY.exec(key);
    if (!m || !m[1] || !m[2]) continue;
    const answer = jotformAnswer(key, m[1], m[2], value);
    if (answer) answers.push(answer);
  }
  for (const key of uploads) {
    const m = QUESTION_KEY.exec(key);
    const urls = m?.[2] ? request[m[2]] : undefined;
    if (m?.[1] && m[2] && Array.isArray(urls)) {
      answers.push({ key: m[2], aliases: [key, m[1]], label: m[2], kind: 'file', value: urls.filter((u): u is string => typeof u === 'string') });
    }
  }
  return {
    formId: delivery.formID,
    ...(delivery.formTitle ? { formTitle: delivery.formTitle } : {}),
    submissionId: delivery.submissionID,
    receivedAt,
    answers,
    data: { service: 'jotform' },
  };
}

/**
 * JotForm submissions (webhook posts, multipart/form-data). JotForm signs nothing, so the URL
 * carries a secret and deliveries are rate limited. The submission id is the idempotency key.
 */
export const jotformConnector = defineConnector({
  type: 'jotform',
  version: 1,
  description: 'JotForm submissions (webhook with a secret in the URL)',
  settingsSchema: Settings,
  mappings: [formServiceMapping('jotform', 'JotForm')],
  webhook: {
    verify(ctx, request) {
      takeRateLimit(ctx, ctx.settings.rateLimit);
      checkUrlSecret('JotForm', ctx.settings.secret, request);
    },
    async accept(_ctx, request) {
      if (request.method !== 'POST') throw new HubError('VALIDATION', 'JotForm posts its submissions');
      const type = mediaType(request);
      // JotForm posts multipart; a urlencoded post (a proxy, a replay tool) reads the same.
      const fields = type === 'multipart/form-data' ? await parseMultipart(request) : type === 'application/x-www-form-urlencoded' ? ((request.body ?? {}) as PostedFields) : undefined;
      if (!fields) throw new HubError('UNSUPPORTED_MEDIA_TYPE', `JotForm posts multipart/form-data, not ${type || 'an untyped body'}`);
      return { events: [submissionEvent(jotformSubmission(fields, new Date().toISOString()))] };
    },
  },
  prepare: prepareSubmission('jotform'),
});
