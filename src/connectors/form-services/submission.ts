import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { ConsentConfig } from '../../core/config/config.schema.js';
import { HubError } from '../../core/errors.js';
import { fieldErrors } from '../../core/api/problem.js';
import { normalizeEmail } from '../../core/identity/normalize.js';
import { parseDate } from '../../mappings/transforms.js';
import type { MappingDocument } from '../../mappings/mapping.schema.js';
import type { ConnectorContext, WebhookEvent } from '../connector.js';
import { CONSENT_TRAIT, consentGiven, type ConsentTrait } from '../forms/form.mapping.js';
import { FORM_TRAITS, GUESSABLE, guessTarget, type AnswerKind, type FieldTarget, type FormTrait } from './fields.js';

const ANSWER_KINDS = ['text', 'email', 'phone', 'name', 'choice', 'number', 'boolean', 'date', 'url', 'file', 'hidden', 'other'] as const satisfies readonly AnswerKind[];

export const AnswerValueSchema = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Array(Type.String())]);
/** An answer as given: text, a number, yes/no, or the options ticked. */
export type AnswerValue = Static<typeof AnswerValueSchema>;

/** A posted field as an answer: text, numbers and string lists as they are, objects as JSON, nothing as undefined. */
export function answerValue(raw: unknown): AnswerValue | undefined {
  if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return raw;
  if (Array.isArray(raw) && raw.every((v) => typeof v === 'string')) return raw as string[];
  return raw === null || raw === undefined ? undefined : JSON.stringify(raw);
}

const AnswerSchema = Type.Object(
  {
    /** The stable name of the question: Typeform ref, Webflow/Tilda field name, JotForm unique name, Google Forms title. */
    key: Type.String({ minLength: 1, maxLength: 500 }),
    /** Other names the config may use for it: a field id, JotForm's `q3_name`. */
    aliases: Type.Array(Type.String(), { maxItems: 10 }),
    /** The question as the respondent saw it; the body shows answers under it. */
    label: Type.String({ maxLength: 5000 }),
    kind: Type.Enum(ANSWER_KINDS),
    value: AnswerValueSchema,
    /** A name asked in parts (JotForm's Full Name). */
    parts: Type.Optional(Type.Object({ first: Type.Optional(Type.String()), middle: Type.Optional(Type.String()), last: Type.Optional(Type.String()) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type Answer = Static<typeof AnswerSchema>;

const SubmissionSchema = Type.Object(
  {
    formId: Type.String({ minLength: 1, maxLength: 200 }),
    formTitle: Type.Optional(Type.String({ maxLength: 1000 })),
    /** The service's id of the submission: the event id (idempotency key) and the record's sourceId. */
    submissionId: Type.String({ minLength: 1, maxLength: 400 }),
    submittedAt: Type.Optional(Type.String()),
    receivedAt: Type.String(),
    answers: Type.Array(AnswerSchema, { maxItems: 1000 }),
    /** What else the service said that is worth keeping (Typeform score, Webflow site id...). */
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
/** One form submission in the same words for every service: what `accept` queues and `prepare` maps. */
export type Submission = Static<typeof SubmissionSchema>;
const SubmissionCheck = Compile(SubmissionSchema);

/**
 * What the built-in mapping of a form service sees (and a mapping of your own, given in the config):
 * the submission with the connector's field settings and the consent applied. `answers` holds every
 * answer by key, mapped or not, for mappings that want to pick their own.
 */
export type FormRecordPayload = {
  source: string;
  sourceId: string;
  occurredAt?: string;
  emails: string[];
  phones: string[];
  traits: Partial<Record<FormTrait, string>> & { [CONSENT_TRAIT]?: ConsentTrait };
  subject: string;
  body?: string;
  data: Record<string, unknown> & { formId: string; submissionId: string; fields: Record<string, AnswerValue> };
  answers: Record<string, AnswerValue>;
};

/** The part of a form service connector's settings that decides where answers go. */
export type FieldSettings = {
  source?: string;
  fields: Record<string, FieldTarget>;
  consent?: ConsentConfig;
  forms: Record<string, { fields?: Record<string, FieldTarget>; consent?: ConsentConfig }>;
};

function texts(value: AnswerValue): string[] {
  const list = Array.isArray(value) ? value : [typeof value === 'boolean' ? (value ? 'yes' : 'no') : String(value)];
  return list.map((v) => v.trim()).filter((v) => v !== '');
}

function names(answer: Answer): string[] {
  return [answer.key, ...answer.aliases, answer.label].filter((n) => n !== '');
}

/** The target the config gives an answer: exact names first, then the same names in any case. */
function configured(maps: readonly Record<string, FieldTarget>[], candidates: readonly string[]): FieldTarget | undefined {
  for (const map of maps) {
    for (const name of candidates) if (Object.hasOwn(map, name)) return map[name];
  }
  const folded = candidates.map((n) => n.trim().toLowerCase());
  for (const map of maps) {
    for (const [name, target] of Object.entries(map)) if (folded.includes(name.trim().toLowerCase())) return target;
  }
  return undefined;
}

function matchesName(field: string, answer: Answer): boolean {
  const wanted = field.trim().toLowerCase();
  return names(answer).some((n) => n.trim().toLowerCase() === wanted);
}

const looksLikePhone = (text: string) => {
  const digits = text.replace(/\D/g, '').length;
  return digits >= 5 && digits <= 20 && !/[a-zа-я@]/i.test(text);
};

/**
 * Applies the field settings (per form, then for the connector, then the built-in guess) and the
 * consent to one submission. Without the consent the answers that would fill traits are kept as
 * answers of the interaction instead; the consent state becomes the `personalDataConsent` trait.
 */
export function toRecordPayload(submission: Submission, settings: FieldSettings, type: string): FormRecordPayload {
  const perForm = Object.hasOwn(settings.forms, submission.formId) ? settings.forms[submission.formId] : undefined;
  const maps = [perForm?.fields ?? {}, settings.fields];
  const consent = perForm?.consent ?? settings.consent;
  const source = settings.source ?? type;
  const occurredAt = submission.submittedAt === undefined ? undefined : parseDate(submission.submittedAt);

  const consentAnswer = consent ? submission.answers.find((a) => matchesName(consent.field, a)) : undefined;
  const granted = consent ? consentGiven(consentAnswer?.value) : true;

  const emails: string[] = [];
  const phones: string[] = [];
  const traits: Partial<Record<FormTrait, string>> = {};
  const fields: [string, AnswerValue][] = [];
  const lines: string[] = [];
  const bodyParts: string[] = [];
  let subject: string | undefined;
  const usedKeys = new Set<string>();
  const uniqueKey = (key: string) => {
    let candidate = key;
    for (let n = 2; usedKeys.has(candidate); n += 1) candidate = `${key} (${n})`;
    usedKeys.add(candidate);
    return candidate;
  };
  const keep = (answer: Answer) => {
    fields.push([uniqueKey(answer.key), answer.value]);
    const label = answer.label || answer.key;
    // A question already ends in its own mark: "When did you move?" reads better without a colon after it.
    lines.push(`${label}${/[?:!.]$/.test(label) ? '' : ':'} ${texts(answer.value).join(', ')}`);
  };
  const setTrait = (trait: FormTrait, value: string | undefined) => {
    if (value === undefined || value.trim() === '') return true;
    if (traits[trait] !== undefined) return false;
    traits[trait] = value.trim();
    return true;
  };

  for (const answer of submission.answers) {
    if (answer === consentAnswer) continue;
    const values = texts(answer.value);
    if (values.length === 0) continue;
    const explicit = configured(maps, names(answer));
    const typed: FieldTarget | undefined = answer.kind === 'email' ? 'email' : answer.kind === 'phone' ? 'phone' : undefined;
    const guessed = explicit ?? typed ?? (GUESSABLE.has(answer.kind) ? guessTarget(answer.key, answer.label) : undefined);
    const target = guessed === 'keep' ? undefined : guessed;

    if (target === undefined && answer.kind === 'name' && answer.parts && granted) {
      // A name asked in parts (JotForm Full Name) fills the name traits it has.
      const fits = (['first', 'middle', 'last'] as const).every((p) => answer.parts?.[p] === undefined || traits[`${p}Name`] === undefined);
      if (fits) {
        setTrait('firstName', answer.parts.first);
        setTrait('middleName', answer.parts.middle);
        setTrait('lastName', answer.parts.last);
        continue;
      }
    }
    if (target === 'email') {
      // A guess must look like an address; a field the config or the service calls email is taken as it is.
      const ok = explicit !== undefined || typed !== undefined ? values : values.filter((v) => normalizeEmail(v) !== null);
      if (ok.length === values.length) {
        emails.push(...values);
        continue;
      }
    } else if (target === 'phone') {
      const ok = explicit !== undefined || typed !== undefined ? values : values.filter(looksLikePhone);
      if (ok.length === values.length) {
        phones.push(...values);
        continue;
      }
    } else if (target === 'subject' && subject === undefined) {
      subject = values.join(', ');
      continue;
    } else if (target === 'body' || target === 'subject') {
      bodyParts.push(values.join(', '));
      continue;
    } else if (target !== undefined && granted && setTrait(target, values.join(', '))) {
      continue;
    }
    keep(answer);
  }

  const allTraits: FormRecordPayload['traits'] = { ...traits };
  if (consent) {
    allTraits[CONSENT_TRAIT] = {
      granted,
      at: occurredAt ?? submission.receivedAt,
      source,
      formId: submission.formId,
      field: consent.field,
      ...(consent.policy ? { policy: consent.policy } : {}),
    };
  }
  const body = [...bodyParts, ...lines].join('\n');
  const answerKeys = new Set<string>();
  return {
    source,
    sourceId: submission.submissionId,
    ...(occurredAt ? { occurredAt } : {}),
    emails,
    phones,
    traits: allTraits,
    subject: subject ?? submission.formTitle ?? `Form ${submission.formId}`,
    ...(body ? { body } : {}),
    data: {
      ...submission.data,
      formId: submission.formId,
      ...(submission.formTitle ? { formTitle: submission.formTitle } : {}),
      submissionId: submission.submissionId,
      // Object.fromEntries: an answer keyed "__proto__" stays an answer.
      fields: Object.fromEntries(fields),
      ...(consent ? { consent: { granted } } : {}),
    },
    answers: Object.fromEntries(
      submission.answers.map((a) => {
        let key = a.key;
        for (let n = 2; answerKeys.has(key); n += 1) key = `${a.key} (${n})`;
        answerKeys.add(key);
        return [key, a.value];
      }),
    ),
  };
}

/** The event of one submission: its id is the service's submission id, so a redelivery is ignored. */
export function submissionEvent(submission: Submission): WebhookEvent {
  return { id: submission.submissionId, payload: submission };
}

/** The shared `prepare` of the form service connectors: checks what came back from the queue, then applies the settings. */
export function prepareSubmission(type: string) {
  return async (ctx: ConnectorContext<FieldSettings>, event: WebhookEvent): Promise<unknown[]> => {
    if (!SubmissionCheck.Check(event.payload)) {
      const errors = fieldErrors([...SubmissionCheck.Errors(event.payload)].slice(0, 3));
      throw new HubError('VALIDATION', `queued ${type} event ${event.id} is not a form submission: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`);
    }
    return [toRecordPayload(event.payload, ctx.settings, type)];
  };
}

/**
 * The built-in mapping of every form service: one `form` interaction per submission, on the
 * profile its email or phone finds, with the traits the answers filled.
 */
export function formServiceMapping(type: string, title: string): MappingDocument {
  return {
    name: type,
    version: 1,
    description: `${title}: a form submission → a form interaction on the respondent’s profile`,
    records: [
      {
        kind: 'interaction',
        source: 'source',
        sourceId: 'sourceId',
        occurredAt: 'occurredAt',
        identifiers: { emails: ['emails'], phones: ['phones'] },
        traits: Object.fromEntries([...FORM_TRAITS, CONSENT_TRAIT].map((t) => [t, `traits.${t}`])),
        interaction: { channel: { const: 'form' }, direction: { const: 'inbound' }, subject: 'subject', body: 'body', data: 'data' },
      },
    ],
  };
}
