import { Type, type Static } from 'typebox';
import { HttpTuningSettings } from './poller-support.js';

const Param = Type.String({ minLength: 1, maxLength: 200 });
const Size = Type.Integer({ minimum: 1, maximum: 10_000 });

// Defaults inside a union are not applied by the config validator (ajv ignores `default` under
// anyOf), so the optional fields of these variants get their defaults in rest-poller.paging.ts.
const Auth = Type.Union(
  [
    Type.Object({ type: Type.Literal('none') }, { additionalProperties: false }),
    Type.Object({ type: Type.Literal('bearer'), token: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    Type.Object({ type: Type.Literal('basic'), username: Type.String({ minLength: 1 }), password: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    Type.Object({ type: Type.Literal('header'), name: Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }), value: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  ],
  { description: 'none | bearer (token) | basic (username, password) | header (name, value); put secrets in ${ENV} variables' },
);

const Pagination = Type.Union(
  [
    Type.Object({ style: Type.Literal('none') }, { additionalProperties: false }),
    Type.Object(
      { style: Type.Literal('page'), pageParam: Type.Optional(Param), sizeParam: Type.Optional(Param), size: Type.Optional(Size), firstPage: Type.Optional(Type.Integer({ minimum: 0 })) },
      { additionalProperties: false, description: 'page=N&per_page=size; a page shorter than size is the last' },
    ),
    Type.Object(
      { style: Type.Literal('offset'), offsetParam: Type.Optional(Param), limitParam: Type.Optional(Param), limit: Type.Optional(Size) },
      { additionalProperties: false, description: 'offset=N&limit=size; a page shorter than limit is the last' },
    ),
    Type.Object(
      { style: Type.Literal('cursor'), nextCursorPath: Param, cursorParam: Param, sizeParam: Type.Optional(Param), size: Type.Optional(Size) },
      { additionalProperties: false, description: 'the answer carries the next cursor at nextCursorPath; it is sent back as cursorParam; none or empty: last page' },
    ),
    Type.Object({ style: Type.Literal('link') }, { additionalProperties: false, description: 'RFC 8288 Link header with rel="next" (same origin only)' }),
  ],
  { default: { style: 'none' } },
);

const Incremental = Type.Object(
  {
    cursorField: Type.String({ minLength: 1, description: 'dotted path in each item of the value that grows when it changes, e.g. updated_at' }),
    cursorParam: Param,
    type: Type.Union([Type.Literal('string'), Type.Literal('number'), Type.Literal('date')], {
      default: 'string',
      description: 'how cursor values compare: string (ISO-8601 in one format), number, date (anything Date.parse reads)',
    }),
    idField: Type.String({ minLength: 1, default: 'id', description: 'dotted path of the item id; items at the last cursor value are not taken twice' }),
    initialValue: Type.Optional(Type.Union([Type.String({ minLength: 1 }), Type.Number()])),
  },
  { additionalProperties: false, description: 'send the largest cursor value seen as cursorParam, so each poll reads only what changed' },
);

/** Settings of the generic REST poller: everything about the API is configuration. */
export const RestPollerSettings = Type.Object(
  {
    url: Type.String({ pattern: '^https?://[^/]+', description: 'the list endpoint; may carry fixed query parameters' }),
    method: Type.Union([Type.Literal('GET'), Type.Literal('POST')], { default: 'GET' }),
    headers: Type.Record(Type.String({ minLength: 1 }), Type.String(), { default: {} }),
    query: Type.Record(Type.String({ minLength: 1 }), Type.String(), { default: {}, description: 'fixed query parameters' }),
    body: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'POST: fixed JSON body' })),
    paramsIn: Type.Union([Type.Literal('query'), Type.Literal('body')], { default: 'query', description: 'POST: where the paging and cursor parameters go' }),
    auth: Auth,
    itemsPath: Type.String({ default: '', description: 'dotted path of the array of items in the answer; empty: the answer is the array' }),
    pagination: Pagination,
    incremental: Type.Optional(Incremental),
    ...HttpTuningSettings,
  },
  { additionalProperties: false },
);
export type RestPollerSettings = Static<typeof RestPollerSettings>;
export type PaginationSettings = RestPollerSettings['pagination'];
export type IncrementalSettings = NonNullable<RestPollerSettings['incremental']>;
