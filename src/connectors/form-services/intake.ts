import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Busboy } from '@fastify/busboy';
import { Type, type Static, type TSchema } from 'typebox';
import type { Validator } from 'typebox/compile';
import { fieldErrors } from '../../core/api/problem.js';
import { HubError, type FieldError } from '../../core/errors.js';
import type { WebhookRequest } from '../connector.js';

/** The first value of a request header, by its lower-case name. */
export function header(request: Pick<WebhookRequest, 'headers'>, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function queryValue(request: WebhookRequest, name: string): string | undefined {
  const value = request.query[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Constant-time equality of two strings of any length (both are hashed first, so the length is not told either). */
export function safeEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** HMAC-SHA256 of a message with a shared secret, in the encoding the service writes it. */
export function hmacSha256(secret: string, message: Buffer | string, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', secret).update(message).digest(encoding);
}

/**
 * For services that sign nothing (JotForm, Tilda): the webhook URL carries the secret as
 * `?secret=` (or `?token=`, the name Tilda integrations use), compared in constant time.
 */
export function checkUrlSecret(service: string, secret: string, request: WebhookRequest): void {
  const given = queryValue(request, 'secret') ?? queryValue(request, 'token');
  if (given === undefined || given === '') throw new HubError('UNAUTHORIZED', `${service} signs nothing: the webhook URL must carry ?secret=<the connector’s secret>`);
  if (!safeEqual(given, secret)) throw new HubError('UNAUTHORIZED', 'the secret in the webhook URL is not this connector’s');
}

export const RateLimitSettings = Type.Object(
  {
    max: Type.Integer({ minimum: 1, default: 120, description: 'deliveries per window, per hub process' }),
    windowMs: Type.Integer({ minimum: 1000, default: 60_000 }),
  },
  { additionalProperties: false, default: {}, description: 'unsigned services: caps what a leaked URL can send' },
);
export type RateLimit = Static<typeof RateLimitSettings>;

const windows = new WeakMap<object, { start: number; count: number }>();

/**
 * Counts a delivery against the connector's limit; over it, 429 (the services retry later). The
 * window is per process and per connector (keyed by its context), since the webhook route has no
 * per-route limit of its own: it bounds what a leaked URL can send, and guessing the secret too.
 */
export function takeRateLimit(owner: object, limit: RateLimit, now = Date.now()): void {
  let window = windows.get(owner);
  if (!window || now - window.start >= limit.windowMs) {
    window = { start: now, count: 0 };
    windows.set(owner, window);
  }
  window.count += 1;
  if (window.count > limit.max) throw new HubError('RATE_LIMITED', `more than ${limit.max} deliveries in ${limit.windowMs / 1000} s; try again later`);
}

/** Checks a value against a compiled schema; a mismatch is a 400 naming the first problems. */
export function ensure<T extends TSchema>(validator: Validator<Record<string, never>, T>, value: unknown, what: string): Static<T> {
  if (validator.Check(value)) return value;
  const errors: FieldError[] = validator
    .Errors(value)
    .slice(0, 3)
    .map((e) => {
      // TypeBox names every missing property at once (ajv's missingProperty is one at a time).
      const missing = (e.params as { requiredProperties?: unknown } | undefined)?.requiredProperties;
      return Array.isArray(missing) ? { path: e.instancePath || '/', message: `missing ${missing.join(', ')}` } : (fieldErrors([e])[0] ?? { path: '/', message: 'is invalid' });
    });
  throw new HubError('VALIDATION', `not ${what}: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, { errors });
}

/** A form post's named values: a repeated name (checkboxes) becomes a list. */
export type PostedFields = Record<string, string | string[]>;

const MULTIPART_LIMITS = { fields: 500, parts: 520, files: 20, fieldSize: 1024 * 1024, fileSize: 10 * 1024 * 1024 } as const;

/**
 * Reads a multipart/form-data body from its bytes (the webhook route parses only JSON and
 * urlencoded bodies). Files are read and dropped, their names kept; a body busboy cannot read
 * whole is a 400.
 */
export function parseMultipart(request: WebhookRequest): Promise<PostedFields> {
  const contentType = header(request, 'content-type') ?? '';
  return new Promise((resolve, reject) => {
    const fields = new Map<string, string[]>();
    const add = (name: string, value: string) => {
      const list = fields.get(name);
      if (list) list.push(value);
      else fields.set(name, [value]);
    };
    const fail = (message: string, cause?: unknown) => reject(new HubError('VALIDATION', `malformed multipart body: ${message}`, { cause }));
    let parser: InstanceType<typeof Busboy>;
    try {
      parser = new Busboy({ headers: { ...request.headers, 'content-type': contentType }, limits: MULTIPART_LIMITS });
    } catch (cause) {
      // No boundary, or not multipart at all: busboy throws before reading anything.
      fail((cause as Error).message, cause);
      return;
    }
    parser.on('field', (name, value, _nameTruncated, valueTruncated) => {
      if (valueTruncated) reject(new HubError('PAYLOAD_TOO_LARGE', `field "${name}" is longer than ${MULTIPART_LIMITS.fieldSize} bytes`));
      else add(name, value);
    });
    parser.on('file', (name, stream, filename) => {
      stream.resume();
      add(name, filename ? `[file ${filename}]` : '');
    });
    for (const limit of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
      parser.on(limit, () => reject(new HubError('PAYLOAD_TOO_LARGE', `the body has too many parts (${limit})`)));
    }
    parser.on('error', (cause) => fail(cause instanceof Error ? cause.message : String(cause), cause));
    // Object.fromEntries: a field named "__proto__" stays a field.
    parser.on('finish', () => resolve(Object.fromEntries([...fields].map(([name, list]) => [name, list.length === 1 ? (list[0] ?? '') : list]))));
    parser.end(request.rawBody);
  });
}

/** The media type of the request, lower case, without parameters. */
export function mediaType(request: WebhookRequest): string {
  return (header(request, 'content-type') ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
}

/** The body's own value of a name (never one inherited from Object.prototype). */
export function own(body: unknown, name: string): unknown {
  return body !== null && typeof body === 'object' && Object.hasOwn(body, name) ? (body as Record<string, unknown>)[name] : undefined;
}
