import { Type, type Static } from 'typebox';
import { MappingSchema } from '../../mappings/mapping.schema.js';
import { DEFAULT_BLOCKLIST, DEFAULT_MATCHING } from '../identity/match/defaults.js';

export const Scope = Type.Union([Type.Literal('ingest'), Type.Literal('read'), Type.Literal('write'), Type.Literal('admin')]);
export type Scope = Static<typeof Scope>;
export const ALL_SCOPES: readonly Scope[] = ['ingest', 'read', 'write', 'admin'];

export const SourceName = Type.String({ pattern: '^[a-z0-9][a-z0-9._:-]*$', maxLength: 100 });

export const ApiKeyConfig = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Shown in logs and the audit trail' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'hex SHA-256 of the key; the key itself is never stored' }),
    scopes: Type.Array(Scope, { minItems: 1, uniqueItems: true }),
  },
  { additionalProperties: false },
);

/** Where a form field goes: an identifier, an interaction field, or (any other name) a trait. */
export const FormFieldTarget = Type.String({ minLength: 1, description: 'email | phone | externalId | subject | body | any trait name' });

/**
 * The personal data processing consent a form asks for (Russian sites must have it: 152-FZ art. 9).
 * Without it a submission is still stored as an interaction, but adds no traits to the profile.
 */
export const ConsentConfig = Type.Object(
  {
    field: Type.String({ minLength: 1, description: 'the consent checkbox: its field name (form services: also its ref, id or label)' }),
    policy: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'the consent text the visitor agreed to: its URL or version, kept with the consent' })),
  },
  { additionalProperties: false },
);
export type ConsentConfig = Static<typeof ConsentConfig>;

export const FormConfig = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,100}$' }),
    source: Type.Optional(SourceName),
    fields: Type.Record(Type.String(), FormFieldTarget, { default: {} }),
    honeypot: Type.Optional(Type.String({ minLength: 1 })),
    consent: Type.Optional(ConsentConfig),
    redirect: Type.Optional(Type.String({ format: 'uri' })),
    corsOrigins: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  },
  { additionalProperties: false },
);
export type FormConfig = Static<typeof FormConfig>;

export const ConnectorConfig = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'used in URLs: /v1/webhooks/{id}, /v1/connectors/{id}' }),
    type: Type.String({ minLength: 1, description: 'a connector type; GET /v1/connectors lists them' }),
    enabled: Type.Boolean({ default: true }),
    settings: Type.Record(Type.String(), Type.Unknown(), { default: {}, description: "the type's own settings, checked against its schema at start" }),
    mapping: Type.Optional(Type.Union([Type.String({ minLength: 1, description: 'name of a built-in mapping' }), MappingSchema])),
    pollEveryMs: Type.Optional(Type.Integer({ minimum: 1000, description: "pollers: interval between polls; default: the type's" })),
  },
  { additionalProperties: false },
);
export type ConnectorConfig = Static<typeof ConnectorConfig>;

const Weights = Type.Object(
  {
    exact: Type.Number(),
    close: Type.Number({ description: 'a typo, a sound-alike, a transliteration, a swapped day and month' }),
    weak: Type.Number({ description: 'an initial against a name, the same birth year' }),
    diff: Type.Number({ description: 'usually negative: evidence of two people' }),
  },
  { additionalProperties: false, description: 'bits of evidence for "same person" per level of agreement (log2 m/u)' },
);

const MatchingConfig = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'probabilistic matching on traits; deterministic linking on identifiers is always on' }),
    autoMerge: Type.Number({ default: DEFAULT_MATCHING.autoMerge, description: 'a score at or above this merges the profiles' }),
    review: Type.Number({ default: DEFAULT_MATCHING.review, description: 'a score from this up to autoMerge proposes the pair at GET /v1/duplicates' }),
    minAgreements: Type.Integer({ minimum: 1, default: DEFAULT_MATCHING.minAgreements, description: 'fields that must agree (exact or close) for an automatic merge' }),
    conflict: Type.Number({
      default: DEFAULT_MATCHING.conflict,
      description: 'a shared email or phone does not link records whose traits score at or below this (two people sharing an address)',
    }),
    candidatesPerKey: Type.Integer({ minimum: 1, maximum: 1000, default: DEFAULT_MATCHING.candidatesPerKey, description: 'a blocking key filed under more records than this is too common to find candidates by' }),
    candidatesPerRecord: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: DEFAULT_MATCHING.candidatesPerRecord,
      description: 'records scored against each arriving record: those sharing the most blocking keys with it (bounds the cost of a record however large the store grows)',
    }),
    crowding: Type.Number({
      minimum: 0,
      default: DEFAULT_MATCHING.crowding,
      description:
        'a pair merges automatically only at autoMerge + crowding × log2(n), and is proposed for review only at review + crowding × log2(n), n the records filed under the rarest blocking key it shares: namesakes crowding a large store make agreements weaker evidence (0: off)',
    }),
    reviewPairsPerRecord: Type.Integer({ minimum: 0, default: DEFAULT_MATCHING.reviewPairsPerRecord }),
    given: Type.Optional(Weights),
    family: Type.Optional(Weights),
    emails: Type.Optional(Weights),
    phones: Type.Optional(Weights),
    fields: Type.Optional(
      Type.Array(
        Type.Object(
          {
            trait: Type.String({ minLength: 1 }),
            comparator: Type.Union([Type.Literal('text'), Type.Literal('code'), Type.Literal('date'), Type.Literal('company')]),
            weights: Weights,
            identifying: Type.Optional(Type.Boolean({ description: 'tells people with the same name apart (birth date, address, national id): an automatic merge needs one such field on both records' })),
            veto: Type.Optional(
              Type.Boolean({ description: 'a plain disagreement on it rules out an automatic merge (e.g. birthDate: a father and son of one name at one address); off by default' }),
            ),
            decisive: Type.Optional(Type.Boolean({ description: 'an exact agreement on it lifts the vetoes (e.g. a national id)' })),
          },
          { additionalProperties: false },
        ),
        { description: 'traits compared besides names, emails and phones; replaces the default list' },
      ),
    ),
  },
  { additionalProperties: false, default: {} },
);
const AlertName = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'the event is alert.<name>' });

/** Alert rules: each turns interactions (or their absence) into `alert.<name>` events in the outbox. */
export const AlertRuleConfig = Type.Union([
  Type.Object(
    {
      name: AlertName,
      kind: Type.Literal('missedCallNoCallback'),
      withinMinutes: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'an outbound call to the same profile within this time cancels the alert; default 30' })),
      statuses: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'inbound call statuses that count as missed (case-insensitive); default missed, no-answer, no answer, busy, canceled, cancelled, unanswered' })),
      lookbackHours: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'older missed calls are not checked; default 72' })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      name: AlertName,
      kind: Type.Literal('complaint'),
      channels: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'default feedback, ticket' })),
      statuses: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'interaction statuses that mean a complaint (case-insensitive)' })),
      keywords: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'words in the subject or body that mean a complaint (case-insensitive, any script)' })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      name: AlertName,
      kind: Type.Literal('largeOrder'),
      amount: Type.Number({ description: 'fires when the amount is above this' }),
      currency: Type.Optional(Type.String({ pattern: '^[A-Za-z]{3}$', description: 'only amounts in this currency' })),
      channels: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'default order, invoice, payment' })),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      name: AlertName,
      kind: Type.Literal('inactive'),
      days: Type.Number({ exclusiveMinimum: 0, description: 'fires once per period in which a profile with interactions has had none for this long' }),
    },
    { additionalProperties: false },
  ),
]);
export type AlertRuleConfig = Static<typeof AlertRuleConfig>;

export const HubConfigSchema = Type.Object(
  {
    identity: Type.Object(
      {
        defaultCountry: Type.String({ pattern: '^[A-Z]{2}$', default: 'RU', description: 'ISO 3166 country for phones written without +' }),
        traitPriority: Type.Record(Type.String(), Type.Array(SourceName, { minItems: 1 }), {
          default: {},
          description: 'per trait: sources in order of trust; unlisted sources rank after them; ties go to the most recent value',
        }),
        emailCanonicalization: Type.Array(Type.Union([Type.Literal('plusTags'), Type.Literal('gmailDots'), Type.Literal('yandexDomains')]), {
          default: [],
          uniqueItems: true,
          description: 'provider rules applied to emails before linking: plusTags (name+tag@ = name@), gmailDots (i.van@gmail.com = ivan@gmail.com), yandexDomains (ya.ru = yandex.ru, "-" = ".")',
        }),
        blocklist: Type.Object(
          {
            emails: Type.Array(Type.String(), { default: DEFAULT_BLOCKLIST.emails }),
            phones: Type.Array(Type.String(), { default: DEFAULT_BLOCKLIST.phones }),
          },
          { additionalProperties: false, default: {}, description: 'placeholder values that never link records (stored, searchable, but not evidence)' },
        ),
        maxProfilesPerIdentifier: Type.Integer({
          minimum: 1,
          default: 3,
          description: 'an email or phone already on more profiles than this (a switchboard, a shared inbox) stops linking and is listed at GET /v1/duplicates/shared-identifiers',
        }),
        matching: MatchingConfig,
      },
      { additionalProperties: false, default: {} },
    ),
    auth: Type.Object(
      { keys: Type.Array(ApiKeyConfig, { default: [] }) },
      { additionalProperties: false, default: {} },
    ),
    pipeline: Type.Object(
      {
        concurrency: Type.Integer({
          minimum: 1,
          maximum: 256,
          default: 2,
          description: 'ingest jobs one worker process resolves at once; jobs that share a person wait for each other, so more than the cores PostgreSQL has rarely helps',
        }),
        transactionSize: Type.Integer({ minimum: 1, maximum: 1000, default: 1000, description: 'records resolved per database transaction' }),
        attempts: Type.Integer({ minimum: 1, maximum: 100, default: 10 }),
        backoffMs: Type.Integer({ minimum: 10, default: 1000 }),
        keepCompleted: Type.Integer({ minimum: 0, default: 1000, description: 'completed jobs kept for the dashboard' }),
      },
      { additionalProperties: false, default: {} },
    ),
    forms: Type.Array(FormConfig, { default: [] }),
    connectors: Type.Array(ConnectorConfig, { default: [] }),
    erasure: Type.Object(
      {
        onReturn: Type.Union([Type.Literal('hold'), Type.Literal('drop')], {
          default: 'hold',
          description: 'a record that carries an identifier of an erased person: hold it for review (GET /v1/erasures/held) or drop it',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    events: Type.Object(
      {
        relayEveryMs: Type.Integer({ minimum: 10, default: 500, description: 'how often a worker looks for new events in the outbox' }),
        relayBatch: Type.Integer({ minimum: 1, maximum: 10000, default: 500 }),
        sweepEveryMs: Type.Integer({ minimum: 100, default: 15000, description: 'how often pending deliveries without a queued job are queued again (after a crash)' }),
        concurrency: Type.Integer({ minimum: 1, maximum: 256, default: 8, description: 'deliveries one worker process sends at once' }),
        attempts: Type.Integer({ minimum: 1, maximum: 100, default: 12, description: 'tries of one delivery before it is marked failed' }),
        backoffMs: Type.Integer({ minimum: 10, default: 30000, description: 'first retry delay; doubles each time (30 s over 12 attempts spans about a day and a half)' }),
        timeoutMs: Type.Integer({ minimum: 100, default: 10000, description: 'per HTTP request to a subscriber' }),
        disableAfterMs: Type.Integer({ minimum: 100, default: 259200000, description: 'a subscription failing without a break for longer than this is disabled (default 3 days)' }),
        alertCheckEveryMs: Type.Integer({ minimum: 100, default: 60000, description: 'how often the scheduled alert rules (missedCallNoCallback, inactive) run' }),
        keepDeliveriesDays: Type.Number({ exclusiveMinimum: 0, default: 30, description: 'delivered and failed deliveries older than this leave the delivery log' }),
        allowPrivateUrls: Type.Boolean({
          default: false,
          description: 'let subscription URLs point at loopback, private, link-local or reserved addresses (refused by default: the hub must not become a way into its own network)',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    alerts: Type.Array(AlertRuleConfig, { default: [] }),
    rateLimit: Type.Object(
      {
        publicMax: Type.Integer({ minimum: 1, default: 60, description: 'requests per client IP per window on web form routes' }),
        webhookMax: Type.Integer({
          minimum: 1,
          default: 1200,
          description: 'requests per client IP per window on connector webhooks: providers send bursts from a few addresses, so this is higher',
        }),
        windowMs: Type.Integer({ minimum: 1000, default: 60000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    reports: Type.Object(
      {
        foldEveryMs: Type.Integer({
          minimum: 100,
          default: 10000,
          description: 'how often each hub process folds the changed profiles into the report rollups; a report request also folds first, so this only keeps that fold small',
        }),
        foldSettleMs: Type.Integer({
          minimum: 0,
          default: 10000,
          description:
            'the scheduled folds leave the profiles changed in the last foldSettleMs to a later fold, so that a profile written to again and again (a bulk import) is folded once, when it settles; a report request folds everything',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    metrics: Type.Object(
      {
        requireKey: Type.Boolean({ default: false, description: 'GET /metrics asks for an API key (any valid key, whatever its scopes); default: public, as scrapers usually carry no token' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type HubConfig = Static<typeof HubConfigSchema>;
