import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Connector, WebhookRequest } from '../../src/connectors/connector.js';
import { guessTarget } from '../../src/connectors/form-services/fields.js';
import { googleFormsConnector, googleFormsSubmission } from '../../src/connectors/form-services/google-forms.connector.js';
import { parseMultipart } from '../../src/connectors/form-services/intake.js';
import { jotformConnector, jotformSubmission } from '../../src/connectors/form-services/jotform.connector.js';
import type { Submission } from '../../src/connectors/form-services/submission.js';
import { isTildaTest, tildaConnector, tildaSubmission } from '../../src/connectors/form-services/tilda.connector.js';
import { typeformConnector, typeformSubmission } from '../../src/connectors/form-services/typeform.connector.js';
import { webflowConnector, webflowSubmission } from '../../src/connectors/form-services/webflow.connector.js';
import { compileMapping } from '../../src/mappings/compile.js';
import { CONNECTOR_TYPES } from '../../src/connectors/registry.js';
import { resolveConnectorConfigs } from '../../src/connectors/runtime.js';
import { loadConfigFile } from '../../src/core/config/load-config.js';
import type { HubRecord } from '../../src/core/record.schema.js';
import { connectorContext } from '../support/connector-context.js';

const fixture = (name: string) => readFileSync(new URL(`../../../shared/fixtures/${name}`, import.meta.url), 'utf8');
const RECEIVED = '2026-11-20T10:00:00.000Z';
const SECRET = 'form-services-unit-secret';

/** Runs a submission through the connector's prepare (with these settings, defaults filled in as at start) and its built-in mapping. */
async function recordOf(connector: Connector, submission: Submission, settings: Record<string, unknown> = {}): Promise<HubRecord> {
  const ctx = connectorContext(connector, { id: connector.type, settings: { secret: SECRET, ...settings } }, []);
  const payloads = await connector.prepare!(ctx, { id: submission.submissionId, payload: submission });
  const result = compileMapping(connector.mappings[0]!).apply(payloads[0]);
  expect(result.errors).toEqual([]);
  expect(result.records).toHaveLength(1);
  return result.records[0]!;
}

// A JotForm webhook post, written from the documented shape (PROTOCOLS.md §3.4; the fields and
// rawRequest keys of the real capture in zulip's integration tests): there is no JotForm fixture in
// ../shared/fixtures. `pretty` joins label:value pairs with commas, so it is wrong on purpose here
// wherever an answer has a comma or colon in it; the connector must not read it.
export const JOTFORM_RAW_REQUEST = {
  slug: 'submit/241234567890123',
  jsExecutionTracker: 'build-date-1732271172685=>init-started:1732615894703=>onsubmit-fired:1732615897940',
  submitSource: 'form',
  buildDate: '1732271172685',
  q3_name: { first: 'Анна', middle: '', last: 'Смирнова' },
  q4_email: 'anna.smirnova@example.ru',
  q5_phoneNumber: { full: '+7 (912) 345-67-89' },
  q6_company: 'ООО «Ромашка»',
  q7_yourMessage: 'Нужен счёт: 3 лицензии, с доставкой',
  q8_agree: ['Я согласна на обработку персональных данных'],
  q9_date: { month: '11', day: '5', year: '2026' },
  q11_table: { colIds: '["0","1"]', rowIds: '["0"]' },
  timeToSubmit: '41',
  temp_upload: { q10_attachment: ['brief.pdf#jotformfs-e4f4ece4d0a90#01940839-37f4-7a46-9b4e-71107f08774a'] },
  file_server: 'jotforms-e4f4ece4d0a90#01940839-37f4-7a46-9b4e-71107f08774a',
  path: '/submit/241234567890123',
  attachment: ['https://www.jotform.com/uploads/example/241234567890123/6111139644845227683/brief.pdf'],
  event_id: '1732615894703_241234567890123_x7Kq9',
};
const JOTFORM_PRETTY = 'Name:Анна Смирнова, Email:anna.smirnova@example.ru, Phone Number:+7 (912) 345-67-89, Company:ООО «Ромашка», Your Message:Нужен счёт: 3 лицензии, с доставкой, Agree:Я согласна на обработку персональных данных, Date:11-05-2026, Attachment:brief.pdf';

async function jotformPost(rawRequest: string = JSON.stringify(JOTFORM_RAW_REQUEST)): Promise<WebhookRequest> {
  const form = new FormData();
  for (const [name, value] of [
    ['action', ''],
    ['webhookURL', 'https://hub.example.ru/v1/webhooks/jotform?secret=x'],
    ['username', 'example'],
    ['formID', '241234567890123'],
    ['type', 'WEB'],
    ['formTitle', 'Заявка на расчёт'],
    ['submissionID', '6084250982513018472'],
    ['rawRequest', rawRequest],
    ['pretty', JOTFORM_PRETTY],
    ['ip', '203.0.113.9'],
  ]) form.append(name!, value!);
  const encoded = new Response(form);
  return {
    method: 'POST',
    url: 'http://hub/v1/webhooks/jotform',
    headers: { 'content-type': encoded.headers.get('content-type') ?? '' },
    query: {},
    rawBody: Buffer.from(await encoded.arrayBuffer()),
    body: undefined,
  };
}

describe('built-in mappings of the form services', () => {
  it('maps the Typeform fixture: typed email, the first name by its question, consent from the legal answer, the rest kept', async () => {
    const submission = typeformSubmission(JSON.parse(fixture('typeform_webhook.json')), RECEIVED);
    const record = await recordOf(typeformConnector as Connector, submission, { forms: { lT4Z3j: { consent: { field: 'readable_ref_legal', policy: 'https://example.com/privacy' } } } });
    expect(record).toEqual({
      kind: 'interaction',
      source: 'typeform',
      sourceId: 'a3a12ec67a1365927098a606107fac15',
      occurredAt: '2018-01-18T18:17:02.000Z',
      identifiers: { emails: ['laura@example.com'] },
      traits: {
        firstName: 'Laura',
        personalDataConsent: { granted: true, at: '2018-01-18T18:17:02.000Z', source: 'typeform', formId: 'lT4Z3j', field: 'readable_ref_legal', policy: 'https://example.com/privacy' },
      },
      interaction: {
        channel: 'form',
        direction: 'inbound',
        subject: 'Webhooks example',
        body: [
          "Thanks, {{answer_60906475}}! What's it like where you live? Tell us in a few sentences. It's cold right now! I live in an older medium-sized city with a university. Geographically, the area is hilly.",
          'When did you move to the place where you live? 2005-10-15',
          'Which pictures do you like? You can choose as many as you like. London, Sydney',
          'On a scale of 1 to 5, what rating would you give the weather in Sydney? 1 is poor weather, 5 is excellent weather: 5',
          'Which of these cities is your favorite? London',
          "Do you have a favorite city we haven't listed? no",
          'How important is the weather to your opinion about a city? 1 is not important, 5 is very important. 2',
          'How would you rate the weather where you currently live? 1 is poor weather, 5 is excellent weather. 3',
          'On a scale of 1 to 5, what rating would you give the general quality of life in Sydney? 1 is poor, 5 is excellent: 4',
        ].join('\n'),
        data: {
          service: 'typeform',
          eventId: 'LtWXD3crgy',
          landedAt: '2018-01-18T18:07:02Z',
          score: 9,
          formId: 'lT4Z3j',
          formTitle: 'Webhooks example',
          submissionId: 'a3a12ec67a1365927098a606107fac15',
          fields: {
            '[readable_ref_long_text': "It's cold right now! I live in an older medium-sized city with a university. Geographically, the area is hilly.",
            readable_ref_date: '2005-10-15',
            readable_ref_picture_choice: ['London', 'Sydney'],
            readable_ref_number1: 5,
            readable_ref_multiple_choice: 'London',
            readable_ref_yes_no: false,
            readable_ref_opinion_scale: 2,
            readable_ref_rating: 3,
            readable_ref_number2: 4,
          },
          consent: { granted: true },
        },
      },
    });
  });

  it('keeps Typeform hidden fields as answers and takes an email from one', async () => {
    const body = JSON.parse(fixture('typeform_webhook.json'));
    body.form_response.hidden = { email: 'hidden@example.com', utm_source: 'newsletter' };
    const record = await recordOf(typeformConnector as Connector, typeformSubmission(body, RECEIVED));
    expect(record.identifiers?.emails).toEqual(['laura@example.com', 'hidden@example.com']);
    expect(record.interaction?.data?.['fields']).toMatchObject({ utm_source: 'newsletter' });
    // Without a consent setting there is no consent trait, and the legal answer is an ordinary answer.
    expect(record.traits).toEqual({ firstName: 'Laura' });
    expect(record.interaction?.data?.['fields']).toMatchObject({ readable_ref_legal: true });
  });

  it('maps the Webflow fixture by field names', async () => {
    const record = await recordOf(webflowConnector as Connector, webflowSubmission(JSON.parse(fixture('webflow_form_submission.json')), RECEIVED));
    expect(record).toEqual({
      kind: 'interaction',
      source: 'webflow',
      sourceId: '6321ca84df3949bfc6752327',
      occurredAt: '2022-09-14T12:35:16.117Z',
      // Webflow sent the phone as a JSON number; the hub's defaultCountry decides how it reads.
      identifiers: { emails: ['zaphod@heartofgold.ai'], phones: ['15550000000'] },
      traits: { firstName: 'Zaphod', lastName: 'Beeblebrox' },
      interaction: {
        channel: 'form',
        direction: 'inbound',
        subject: 'Contact Us',
        data: {
          service: 'webflow',
          siteId: '65427cf400e02b306eaa049c',
          formElementId: '4e038d2c-6a1e-4953-7be9-a59a2b453177',
          formId: '65429eadebe8a9f3a30f62d0',
          formTitle: 'Contact Us',
          submissionId: '6321ca84df3949bfc6752327',
          fields: {},
        },
      },
    });
  });

  it('maps a JotForm multipart post from rawRequest, never from the lossy pretty', async () => {
    const fields = await parseMultipart(await jotformPost());
    const record = await recordOf(jotformConnector as Connector, jotformSubmission(fields, RECEIVED), { consent: { field: 'agree' } });
    expect(record).toEqual({
      kind: 'interaction',
      source: 'jotform',
      sourceId: '6084250982513018472',
      identifiers: { emails: ['anna.smirnova@example.ru'], phones: ['+7 (912) 345-67-89'] },
      traits: {
        firstName: 'Анна',
        lastName: 'Смирнова',
        company: 'ООО «Ромашка»',
        personalDataConsent: { granted: true, at: RECEIVED, source: 'jotform', formId: '241234567890123', field: 'agree' },
      },
      interaction: {
        channel: 'form',
        direction: 'inbound',
        subject: 'Заявка на расчёт',
        body: [
          'yourMessage: Нужен счёт: 3 лицензии, с доставкой',
          'date: 2026-11-05',
          'table: ["0","1"], ["0"]',
          'attachment: https://www.jotform.com/uploads/example/241234567890123/6111139644845227683/brief.pdf',
        ].join('\n'),
        data: {
          service: 'jotform',
          formId: '241234567890123',
          formTitle: 'Заявка на расчёт',
          submissionId: '6084250982513018472',
          fields: {
            yourMessage: 'Нужен счёт: 3 лицензии, с доставкой',
            date: '2026-11-05',
            table: '["0","1"], ["0"]',
            attachment: ['https://www.jotform.com/uploads/example/241234567890123/6111139644845227683/brief.pdf'],
          },
          consent: { granted: true },
        },
      },
    });
    expect(JSON.stringify(record)).not.toContain('Your Message:');
  });

  it('refuses a JotForm post without rawRequest or with a rawRequest that is not a JSON object', async () => {
    const fields = await parseMultipart(await jotformPost());
    expect(() => jotformSubmission({ ...fields, rawRequest: '{"q3_name": ' }, RECEIVED)).toThrow(/rawRequest is not JSON/);
    expect(() => jotformSubmission({ ...fields, rawRequest: '["q3_name"]' }, RECEIVED)).toThrow(/not a JSON object/);
    const { rawRequest: _dropped, ...withoutRaw } = fields;
    expect(() => jotformSubmission(withoutRaw, RECEIVED)).toThrow(expect.objectContaining({ code: 'HUB_ERR_VALIDATION', message: expect.stringContaining('rawRequest') }));
  });

  it('maps a Tilda post by the builder’s field names and drops its cookies', async () => {
    const body = { Name: 'Олег Иванов', Phone: '+7 (903) 123-45-67', Email: 'oleg@example.ru', Comments: 'Позвоните вечером', Checkbox: 'yes', tranid: '5123456:4567890123', formid: 'form524123456', COOKIES: '_ga=GA1.2.1; tildauid=1' };
    const submission = tildaSubmission(body, Buffer.from(new URLSearchParams(body).toString()), RECEIVED);
    const record = await recordOf(tildaConnector as Connector, submission, { fields: { Comments: 'body' }, consent: { field: 'checkbox' } });
    expect(record).toEqual({
      kind: 'interaction',
      source: 'tilda',
      sourceId: '5123456:4567890123',
      identifiers: { emails: ['oleg@example.ru'], phones: ['+7 (903) 123-45-67'] },
      traits: { fullName: 'Олег Иванов', personalDataConsent: { granted: true, at: RECEIVED, source: 'tilda', formId: 'form524123456', field: 'checkbox' } },
      interaction: {
        channel: 'form',
        direction: 'inbound',
        subject: 'Form form524123456',
        body: 'Позвоните вечером',
        data: { service: 'tilda', formId: 'form524123456', submissionId: '5123456:4567890123', fields: {}, consent: { granted: true } },
      },
    });
    expect(JSON.stringify(record)).not.toContain('tildauid');
  });

  it('knows Tilda’s test request, and names a Tilda post without tranid by the hash of its body', () => {
    expect(isTildaTest({ test: 'test' })).toBe(true);
    expect(isTildaTest({ test: 'test', tranid: '1:2', Name: 'x' })).toBe(false);
    const raw = Buffer.from('Name=A&Phone=%2B79031234567');
    const a = tildaSubmission({ Name: 'A', Phone: '+79031234567' }, raw, RECEIVED);
    const b = tildaSubmission({ Name: 'A', Phone: '+79031234567' }, raw, RECEIVED);
    expect(a.submissionId).toMatch(/^body-[0-9a-f]{40}$/);
    expect(b.submissionId).toBe(a.submissionId);
    expect(a.formId).toBe('tilda');
  });

  it('maps what the Apps Script posts for Google Forms, with the collected email first', async () => {
    const body = {
      formId: '1FAIpQLSd-example-form-id',
      formTitle: 'Запись на демо',
      responseId: '2_ABaOnudexample',
      submittedAt: '2026-11-20T09:58:00.000Z',
      respondentEmail: 'maria@example.ru',
      answers: [
        { id: 101, title: 'Ваше имя', type: 'TEXT', response: 'Мария Кузнецова' },
        { id: 102, title: 'Название компании', type: 'TEXT', response: 'АО Вектор' },
        { id: 103, title: 'Что интересует?', type: 'CHECKBOX', response: ['CRM', 'Телефония'] },
        { id: 104, title: 'Оценки', type: 'GRID', response: ['5', '4'] },
        { id: 105, title: 'Удобное время', type: 'CHECKBOX_GRID', response: [['утро', 'день'], null] },
        { id: 106, title: 'Пропущено', type: 'TEXT', response: null },
      ],
    };
    const record = await recordOf(googleFormsConnector as Connector, googleFormsSubmission(body, RECEIVED), { fields: { 'название компании': 'company' } });
    expect(record).toEqual({
      kind: 'interaction',
      source: 'google-forms',
      sourceId: '2_ABaOnudexample',
      occurredAt: '2026-11-20T09:58:00.000Z',
      identifiers: { emails: ['maria@example.ru'] },
      traits: { fullName: 'Мария Кузнецова', company: 'АО Вектор' },
      interaction: {
        channel: 'form',
        direction: 'inbound',
        subject: 'Запись на демо',
        body: 'Что интересует? CRM, Телефония\nОценки: 5, 4\nУдобное время: утро; день',
        data: {
          service: 'google-forms',
          formId: '1FAIpQLSd-example-form-id',
          formTitle: 'Запись на демо',
          submissionId: '2_ABaOnudexample',
          fields: { 'Что интересует?': ['CRM', 'Телефония'], Оценки: ['5', '4'], 'Удобное время': ['утро; день'] },
        },
      },
    });
  });

  it('refuses payloads that are not what the service sends, with a 400 naming the problem', () => {
    expect(() => typeformSubmission({ event_type: 'form_response', form_response: { form_id: 'x' } }, RECEIVED)).toThrow(/token/);
    expect(() => webflowSubmission({ triggerType: 'form_submission', payload: { data: {} } }, RECEIVED)).toThrow(/id/);
    expect(() => googleFormsSubmission({ formId: 'f', responseId: 'r', answers: 'none' }, RECEIVED)).toThrow(expect.objectContaining({ code: 'HUB_ERR_VALIDATION', status: 400 }));
    expect(() => tildaSubmission(['Name'], Buffer.alloc(0), RECEIVED)).toThrow(expect.objectContaining({ code: 'HUB_ERR_VALIDATION' }));
  });
});

describe('field settings over the built-in guess', () => {
  const submission = (answers: Submission['answers'], formId = 'form-1'): Submission => ({ formId, submissionId: 's-1', receivedAt: RECEIVED, answers, data: { service: 'tilda' } });
  const text = (key: string, value: string, label = key): Submission['answers'][number] => ({ key, aliases: [], label, kind: 'text', value });

  it('prefers the form’s own fields, then the connector’s, then the guess; names match in any case', async () => {
    const answers = [text('Name', 'Пётр'), text('Org', 'ИП Петров'), text('Phone', '+7 903 000 00 01'), text('Note', 'после 18:00')];
    const settings = { fields: { name: 'firstName', org: 'company' }, forms: { 'form-1': { fields: { Name: 'lastName', Phone: 'keep' } } } };
    const record = await recordOf(tildaConnector as Connector, submission(answers), settings);
    expect(record.traits).toEqual({ lastName: 'Пётр', company: 'ИП Петров' });
    expect(record.identifiers).toBeUndefined();
    expect(record.interaction?.data?.['fields']).toEqual({ Phone: '+7 903 000 00 01', Note: 'после 18:00' });
    // Another form of the same connector gets the connector's fields only.
    const other = await recordOf(tildaConnector as Connector, submission(answers, 'form-2'), settings);
    expect(other.traits).toEqual({ firstName: 'Пётр', company: 'ИП Петров' });
    expect(other.identifiers).toEqual({ phones: ['+7 903 000 00 01'] });
  });

  it('matches a setting by alias (a field id) and by the question as shown', async () => {
    const answers: Submission['answers'] = [
      { key: 'ref_1', aliases: ['FieldId1'], label: 'Как называется ваша организация в ЕГРЮЛ?', kind: 'text', value: 'ООО Альфа' },
      { key: 'ref_2', aliases: [], label: 'Куда прислать счёт?', kind: 'text', value: 'buh@alpha.example' },
    ];
    const record = await recordOf(typeformConnector as Connector, submission(answers), { fields: { FieldId1: 'company', 'куда прислать счёт?': 'email' } });
    expect(record.traits).toEqual({ company: 'ООО Альфа' });
    expect(record.identifiers).toEqual({ emails: ['buh@alpha.example'] });
  });

  it('keeps a guessed email or phone that does not look like one as an answer, and a second value for a trait too', async () => {
    const answers = [text('Email', 'не помню'), text('Телефон', 'звоните в офис'), text('Имя', 'Ира'), text('ФИО', 'Ирина Львовна Орлова')];
    const record = await recordOf(tildaConnector as Connector, submission(answers));
    expect(record.identifiers).toBeUndefined();
    expect(record.traits).toEqual({ fullName: 'Ира' });
    expect(record.interaction?.data?.['fields']).toEqual({ Email: 'не помню', Телефон: 'звоните в офис', ФИО: 'Ирина Львовна Орлова' });
  });

  it('takes the first subject answer as the subject and later ones and body answers into the body', async () => {
    const answers = [text('Topic', 'Счёт'), text('Details', 'Две позиции'), text('Topic2', 'Доставка'), text('Extra', 'x')];
    const record = await recordOf(tildaConnector as Connector, submission(answers), { fields: { Topic: 'subject', Topic2: 'subject', Details: 'body' } });
    expect(record.interaction).toMatchObject({ subject: 'Счёт', body: 'Две позиции\nДоставка\nExtra: x' });
  });

  it('refuses a target that is not an identifier, subject, body, keep or a known trait at start, naming the setting', () => {
    expect(() => connectorContext(tildaConnector as Connector, { id: 't', settings: { secret: SECRET, fields: { Name: 'nickname' } } }, [])).toThrow(/\/connectors\/0\/settings\/fields\/Name/);
    expect(() => connectorContext(tildaConnector as Connector, { id: 't', settings: {} }, [])).toThrow(/\/connectors\/0\/settings.*secret/);
    expect(() => connectorContext(tildaConnector as Connector, { id: 't', settings: { secret: 'short' } }, [])).toThrow(/secret/);
  });
});

describe('consent', () => {
  const answers: Submission['answers'] = [
    { key: 'name', aliases: [], label: 'Ваше имя', kind: 'text', value: 'Олег' },
    { key: 'phone', aliases: [], label: 'Телефон', kind: 'text', value: '+7 903 555 12 12' },
    { key: 'company', aliases: [], label: 'Компания', kind: 'text', value: 'ООО Бета' },
  ];
  const consentSettings = { consent: { field: 'agree', policy: 'v3' } };
  const withAgree = (value: Submission['answers'][number]['value'] | undefined): Submission => ({
    formId: 'f',
    submissionId: 's',
    submittedAt: '2026-11-19T08:00:00Z',
    receivedAt: RECEIVED,
    answers: value === undefined ? answers : [...answers, { key: 'agree', aliases: [], label: 'Согласие', kind: 'choice', value }],
    data: {},
  });

  it('fills traits and records the consent, when it was given', async () => {
    for (const value of ['on', 'yes', 'Да, согласен', true, ['Я согласен']]) {
      const record = await recordOf(tildaConnector as Connector, withAgree(value), consentSettings);
      expect(record.traits).toEqual({
        fullName: 'Олег',
        company: 'ООО Бета',
        personalDataConsent: { granted: true, at: '2026-11-19T08:00:00.000Z', source: 'tilda', formId: 'f', field: 'agree', policy: 'v3' },
      });
    }
  });

  it('stores the interaction with its identifiers but no traits, and records the missing consent, when it was not given', async () => {
    for (const value of [undefined, '', 'no', 'false', 'нет', false, []]) {
      const record = await recordOf(tildaConnector as Connector, withAgree(value), consentSettings);
      expect(record.identifiers).toEqual({ phones: ['+7 903 555 12 12'] });
      expect(record.traits).toEqual({ personalDataConsent: { granted: false, at: '2026-11-19T08:00:00.000Z', source: 'tilda', formId: 'f', field: 'agree', policy: 'v3' } });
      expect(record.interaction?.data).toMatchObject({ fields: { name: 'Олег', company: 'ООО Бета' }, consent: { granted: false } });
      expect(record.interaction?.body).toBe('Ваше имя: Олег\nКомпания: ООО Бета');
    }
  });

  it('takes a per-form consent field over the connector’s', async () => {
    const settings = { consent: { field: 'nothing-here' }, forms: { f: { consent: { field: 'Согласие' } } } };
    const record = await recordOf(tildaConnector as Connector, withAgree('on'), settings);
    expect(record.traits?.['personalDataConsent']).toMatchObject({ granted: true, field: 'Согласие' });
  });
});

describe('guessTarget', () => {
  it.each([
    ['email', 'email'],
    ['E-mail', 'email'],
    ['Электронная почта', 'email'],
    ['Phone Number', 'phone'],
    ['phoneNumber', 'phone'],
    ['Телефон', 'phone'],
    ['Tel', 'phone'],
    ['First Name', 'firstName'],
    ['What is your first name?', 'firstName'],
    ['Last Name', 'lastName'],
    ['Фамилия', 'lastName'],
    ['Отчество', 'middleName'],
    ['Name', 'fullName'],
    ['Ваше имя', 'fullName'],
    ['ФИО', 'fullName'],
    ['Фамилия и имя', 'fullName'],
    ['Company', 'company'],
    ['Название организации', 'company'],
    ['Должность', 'jobTitle'],
    ['Город', 'city'],
  ])('%s → %s', (label, target) => {
    expect(guessTarget(label)).toBe(target);
  });

  it.each(['Comment', 'Сообщение', 'studentsName', 'Tell us about yourself', 'How did you hear about our company at first?', 'Do you have a favorite city we haven’t listed?', 'Hotel'])(
    'leaves "%s" alone',
    (label) => {
      expect(guessTarget(label)).toBeUndefined();
    },
  );
});

describe('config/connectors.form-services.example.yaml', () => {
  it('is taken as it stands, one connector of each form service type', () => {
    const file = fileURLToPath(new URL('../../config/connectors.form-services.example.yaml', import.meta.url));
    const secret = 's'.repeat(32);
    const env = { TYPEFORM_WEBHOOK_SECRET: secret, WEBFLOW_CLIENT_SECRET: secret, JOTFORM_URL_SECRET: secret, TILDA_URL_SECRET: secret, GOOGLE_FORMS_SECRET: secret };
    const resolved = resolveConnectorConfigs(loadConfigFile(file, env).connectors, CONNECTOR_TYPES);
    expect(resolved.map((r) => r.connector.type).sort()).toEqual(['google-forms', 'jotform', 'tilda', 'typeform', 'webflow']);
    expect(resolved.map((r) => r.mapping.name).sort()).toEqual(['google-forms', 'jotform', 'tilda', 'typeform', 'webflow']);
  });
});
