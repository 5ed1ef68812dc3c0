import { Type } from 'typebox';
import { ConsentConfig, SourceName } from '../../core/config/config.schema.js';

/** The traits a form answer may fill; the built-in mappings carry exactly these (and the consent). */
export const FORM_TRAITS = ['fullName', 'firstName', 'middleName', 'lastName', 'company', 'jobTitle', 'city', 'address', 'postcode', 'country', 'birthDate', 'website'] as const;
export type FormTrait = (typeof FORM_TRAITS)[number];

/**
 * Where an answer goes: an identifier, the interaction's subject or body, a trait, or `keep` (an
 * answer of the interaction only, whatever the built-in guess would have made of it).
 */
export const FIELD_TARGETS = ['email', 'phone', 'subject', 'body', 'keep', ...FORM_TRAITS] as const;
export type FieldTarget = (typeof FIELD_TARGETS)[number];

const fieldMap = (options: { default?: object } = {}) =>
  Type.Record(Type.String({ minLength: 1 }), Type.Enum(FIELD_TARGETS), {
    ...options,
    description: `answer (ref, field id, name or label) → ${FIELD_TARGETS.join(' | ')}`,
  });

/** Settings every form service connector shares: where its records come from and how answers map, for all forms or per form. */
export const FormServiceSettings = {
  /** The records' source; default: the connector type. */
  source: Type.Optional(SourceName),
  /** For every form of the connector; a form's own `fields` win over these, and both over the built-in guess. */
  fields: fieldMap({ default: {} }),
  consent: Type.Optional(ConsentConfig),
  forms: Type.Record(
    Type.String({ minLength: 1, description: 'the form id at the service' }),
    Type.Object({ fields: Type.Optional(fieldMap()), consent: Type.Optional(ConsentConfig) }, { additionalProperties: false }),
    { default: {}, description: 'per form id: fields (over the connector’s) and the consent field' },
  ),
};

/** How an answer was asked, as far as the service tells: a typed email or phone answer needs no guess. */
export type AnswerKind = 'text' | 'email' | 'phone' | 'name' | 'choice' | 'number' | 'boolean' | 'date' | 'url' | 'file' | 'hidden' | 'other';

/** Only free-text answers are guessed from their label: "Do you have a favourite city?" answered yes is no city. */
export const GUESSABLE: ReadonlySet<AnswerKind> = new Set(['text', 'hidden']);

/** Lower case, words only: "Phone Number", "phone_number" and "phoneNumber" read alike. */
export function normalizeLabel(label: string): string {
  return label
    .replace(/([a-zа-яё0-9])([A-ZА-ЯЁ])/gu, '$1 $2')
    .toLowerCase()
    .replace(/ё/g, 'е')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

// Checked in order on the normalized label. Russian words are matched by their stem (declension);
// boundaries are spaces because \b only knows ASCII letters.
const EXACT_FULL_NAME = new Set([
  'name', 'your name', 'full name', 'fullname', 'contact name', 'what is your name', 'whats your name', 'what s your name',
  'имя', 'ваше имя', 'фио', 'ф и о', 'имя и фамилия', 'фамилия и имя', 'фамилия имя', 'имя фамилия', 'контактное лицо', 'как к вам обращаться',
]);
const RULES: readonly [RegExp, FieldTarget][] = [
  [/(?:^| )(?:e ?mail|email|почт|электронн)/, 'email'],
  [/(?:^| )(?:phone|telephone|mobile|cellphone|whatsapp|телефон|мобильн)|(?:^| )tel(?: |$)/, 'phone'],
  [/(?:^| )(?:middle name|patronymic|отчеств)/, 'middleName'],
  [/(?:^| )(?:last name|family name|surname|lastname|фамили)/, 'lastName'],
  [/(?:^| )(?:first name|given name|firstname)/, 'firstName'],
  [/(?:^| )(?:company|organi[sz]ation|business name|компани|организаци)/, 'company'],
  [/(?:^| )(?:job title|должност)/, 'jobTitle'],
  [/(?:^| )(?:full name|фио)(?: |$)/, 'fullName'],
  [/^(?:city|town|your city|город|ваш город)$/, 'city'],
];
// Questions longer than this ("How did you hear about our company?") are about something else.
const MAX_GUESS_WORDS = 6;

/** The built-in guess for a free-text answer from its name or label, or undefined. */
export function guessTarget(...labels: string[]): FieldTarget | undefined {
  for (const label of labels) {
    const text = normalizeLabel(label);
    if (text === '' || text.split(' ').length > MAX_GUESS_WORDS) continue;
    if (EXACT_FULL_NAME.has(text)) return 'fullName';
    const rule = RULES.find(([pattern]) => pattern.test(text));
    if (rule) return rule[1];
  }
  return undefined;
}
