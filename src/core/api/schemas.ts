import { Type } from 'typebox';

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    code: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details' },
);

const problemRef = Type.Ref('Problem');

/** Error answers every authenticated route can give, for the OpenAPI document. */
export const authErrors = { 400: problemRef, 401: problemRef, 403: problemRef, 429: problemRef, 503: problemRef } as const;
export const notFound = { 404: problemRef } as const;

export const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 50 });
export const Cursor = Type.String({ maxLength: 1000, description: 'opaque cursor from a previous page' });

export const Uuidish = Type.String({ maxLength: 100 });
