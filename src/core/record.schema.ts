import { Type, type Static } from 'typebox';

export const SOURCE_PATTERN = '^[a-z0-9][a-z0-9._:-]*$';

export const Channel = Type.Union([
  Type.Literal('email'),
  Type.Literal('call'),
  Type.Literal('sms'),
  Type.Literal('form'),
  Type.Literal('order'),
  Type.Literal('invoice'),
  Type.Literal('payment'),
  Type.Literal('ticket'),
  Type.Literal('feedback'),
  Type.Literal('other'),
]);

const ShortText = Type.String({ maxLength: 1000 });

export const RecordSchema = Type.Object(
  {
    source: Type.String({ pattern: SOURCE_PATTERN, maxLength: 100, description: 'the system the record comes from' }),
    sourceId: Type.String({ minLength: 1, maxLength: 500, description: 'its id there; (source, sourceId) is the idempotency key' }),
    kind: Type.Union([Type.Literal('contact'), Type.Literal('interaction')]),
    occurredAt: Type.Optional(Type.String({ format: 'date-time' })),
    identifiers: Type.Optional(
      Type.Object(
        {
          emails: Type.Optional(Type.Array(ShortText, { maxItems: 50 })),
          phones: Type.Optional(Type.Array(ShortText, { maxItems: 50 })),
          ids: Type.Optional(Type.Record(Type.String({ pattern: SOURCE_PATTERN, maxLength: 100 }), Type.String({ minLength: 1, maxLength: 500 }))),
        },
        { additionalProperties: false },
      ),
    ),
    traits: Type.Optional(Type.Record(Type.String({ maxLength: 200 }), Type.Unknown(), { description: 'firstName, lastName, fullName, company, jobTitle, birthDate, city, address, postcode, or any other' })),
    interaction: Type.Optional(
      Type.Object(
        {
          channel: Channel,
          direction: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('outbound')])),
          subject: Type.Optional(Type.String({ maxLength: 10000 })),
          body: Type.Optional(Type.String({ maxLength: 200000 })),
          status: Type.Optional(Type.String({ maxLength: 200 })),
          amount: Type.Optional(Type.Number()),
          currency: Type.Optional(Type.String({ pattern: '^[A-Z]{3}$' })),
          durationSec: Type.Optional(Type.Number({ minimum: 0 })),
          data: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'anything else the source said about the event' })),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { additionalProperties: false },
);
export type HubRecord = Static<typeof RecordSchema>;

export const MAX_BATCH = 1000;
export const RecordBatchSchema = Type.Object(
  { records: Type.Array(RecordSchema, { minItems: 1, maxItems: MAX_BATCH }) },
  { additionalProperties: false },
);

/** A record as it travels through the queue: stamped with the time the hub received it. */
export type ReceivedRecord = HubRecord & { receivedAt: string };
