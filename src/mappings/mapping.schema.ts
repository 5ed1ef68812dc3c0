import { Type, type Static } from 'typebox';

/**
 * The closed set of named transforms a mapping may apply to a value, in order. A value that a
 * transform cannot handle becomes undefined, and an undefined value is left out of the record.
 */
export const TRANSFORMS = [
  'trim',
  'lowercase',
  'uppercase',
  'string',
  'number',
  'integer',
  'boolean',
  'date',
  'unixSeconds',
  'unixMillis',
  'digits',
  'firstName',
  'lastName',
  'nonEmpty',
  'falseAsEmpty',
] as const;
export type TransformName = (typeof TRANSFORMS)[number];

export const TransformStepSchema = Type.Union([
  Type.Enum(TRANSFORMS),
  Type.Object({ lookup: Type.Record(Type.String(), Type.Unknown()), default: Type.Optional(Type.Unknown()) }, { additionalProperties: false }),
  Type.Object({ split: Type.String({ minLength: 1 }), index: Type.Optional(Type.Integer()) }, { additionalProperties: false }),
  Type.Object({ prefix: Type.String() }, { additionalProperties: false }),
]);
export type TransformStep = Static<typeof TransformStepSchema>;

const Transforms = Type.Optional(Type.Array(TransformStepSchema));

/**
 * Where a value comes from: a dotted path into the payload (`from.number`, `items.0.id`; `$.x`
 * reaches the whole payload from inside `each`), a constant, a template (`{first} {last}`), or the
 * first of several that has a value.
 */
export const ExprSchema = Type.Union([
  Type.String({ minLength: 1, description: 'a dotted path into the payload' }),
  Type.Object({ path: Type.String({ minLength: 1 }), transforms: Transforms, default: Type.Optional(Type.Unknown()) }, { additionalProperties: false }),
  Type.Object({ const: Type.Unknown() }, { additionalProperties: false }),
  Type.Object({ template: Type.String(), transforms: Transforms }, { additionalProperties: false }),
  Type.Object({ first: Type.Array(Type.Unknown(), { minItems: 1, description: 'expressions; the first with a value wins' }), transforms: Transforms }, { additionalProperties: false }),
]);
export type Expr = string | { path: string; transforms?: TransformStep[]; default?: unknown } | { const: unknown } | { template: string; transforms?: TransformStep[] } | { first: unknown[]; transforms?: TransformStep[] };

const ExprMap = Type.Record(Type.String(), ExprSchema);

export const RecordTemplateSchema = Type.Object(
  {
    when: Type.Optional(Type.String({ description: 'emit this record only when this path has a value' })),
    each: Type.Optional(Type.String({ description: 'emit one record per element of the array at this path' })),
    kind: Type.Union([Type.Literal('contact'), Type.Literal('interaction')]),
    source: ExprSchema,
    sourceId: ExprSchema,
    occurredAt: Type.Optional(ExprSchema),
    identifiers: Type.Optional(
      Type.Object(
        { emails: Type.Optional(Type.Array(ExprSchema)), phones: Type.Optional(Type.Array(ExprSchema)), ids: Type.Optional(ExprMap) },
        { additionalProperties: false },
      ),
    ),
    traits: Type.Optional(ExprMap),
    interaction: Type.Optional(ExprMap),
  },
  { additionalProperties: false },
);

/** A versioned, declarative document that turns one source payload into canonical records. */
export const MappingSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    version: Type.Integer({ minimum: 1 }),
    description: Type.Optional(Type.String()),
    records: Type.Array(RecordTemplateSchema, { minItems: 1 }),
  },
  { additionalProperties: false, $id: 'Mapping' },
);
export type MappingDocument = Static<typeof MappingSchema>;
export type RecordTemplate = Static<typeof RecordTemplateSchema>;
