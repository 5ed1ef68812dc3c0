import { Ajv, type ErrorObject } from 'ajv';
import { AxiosError, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { Type, type TSchema, type Static } from 'typebox';
import { HubError, isHubError } from '../../core/errors.js';
import type { ConnectorContext, HttpEndpointOptions } from '../connector.js';

// What the three polling connectors (Odoo, 1C, the generic REST poller) share: HTTP tuning
// settings, validation of what a source system answers, and failures told in words.

const ajv = new Ajv({ allErrors: false, strict: false });

/** Settings every poller takes to tune its HTTP client; spread into a settings schema. */
export const HttpTuningSettings = {
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 300_000, description: 'per-request timeout in ms; default 10000' })),
  retries: Type.Optional(Type.Integer({ minimum: 0, maximum: 10, description: 'retries of a call that timed out or got 5xx/429 (honouring Retry-After); default 3' })),
};

/** The HTTP client options a poller's settings ask for. */
export function httpOptions(settings: { timeoutMs?: number | undefined; retries?: number | undefined }): HttpEndpointOptions {
  return { timeoutMs: settings.timeoutMs, retries: settings.retries };
}

/** A compiled check of untrusted data (a stored checkpoint, a source system's answer) against a TypeBox schema. */
export type Check<T> = { (value: unknown): value is T; explain(): string };

/** Compiles a TypeBox schema into a type guard that can say what did not match. */
export function checker<S extends TSchema>(schema: S): Check<Static<S>> {
  const validate = ajv.compile<Static<S>>(schema);
  const check = ((value: unknown) => validate(value)) as Check<Static<S>>;
  check.explain = () => (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
  return check;
}

/** Dotted path into parsed JSON; '' or '$' is the value itself. Arrays take numeric parts. */
export function readPath(value: unknown, path: string): unknown {
  if (path === '' || path === '$') return value;
  let current = value;
  for (const part of path.replace(/^\$\./, '').split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function sample(value: unknown): string {
  if (typeof value === 'string') {
    const text = value.replace(/\s+/g, ' ').trim();
    return text === '' ? 'an empty body' : `text "${text.length > 80 ? `${text.slice(0, 80)}…` : text}"`;
  }
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/**
 * A source system answered 2xx with something that is not what its API promises (an HTML error
 * page from a proxy, a truncated body, a changed schema): the poll fails and its checkpoint stays.
 */
export function malformed(system: string, expected: string, got: unknown, detail?: string): HubError {
  return new HubError('UPSTREAM_REJECTED', `${system} answered with something that is not ${expected}: got ${sample(got)}${detail ? ` (${detail})` : ''}`);
}

/** Reads a vendor's error message out of an error body, for the words of a failure. */
export type ErrorDetail = (body: unknown) => string | undefined;

/** How a source system's failures are told: its error body's message, and a hint per HTTP status. */
export type FailureWords = { detail?: ErrorDetail; hints?: Partial<Record<number, string>> };

/** Messages from the usual error body shapes: `message`, `error`, `error.message`, `error_description`, `detail`, `title`. */
export const commonErrorDetail: ErrorDetail = (body) => {
  for (const path of ['message', 'error.message', 'error_description', 'error', 'detail', 'title']) {
    const v = readPath(body, path);
    if (typeof v === 'string' && v.trim() !== '') return v.trim().slice(0, 300);
  }
  return undefined;
};

// axios's codes for a request that got no answer in time; any other failure without a response
// (ECONNREFUSED, ENOTFOUND, ECONNRESET…) means the remote end was not reached.
const TIMED_OUT = new Set(['ECONNABORTED', 'ETIMEDOUT']);

/**
 * Says in words what went wrong with a call to a source system, keeping whether it is worth
 * retrying (the HubError code the HTTP client chose) and the original error as the cause. The
 * failure is classified by HTTP status and error code, never by message text.
 */
export function explainFailure(system: string, err: unknown, words: FailureWords = {}): unknown {
  if (!isHubError(err) || !(err.cause instanceof AxiosError)) return err;
  const cause = err.cause;
  const code = err.retryable ? 'UPSTREAM_UNAVAILABLE' : 'UPSTREAM_REJECTED';
  const status = cause.response?.status;
  const said = cause.response ? (words.detail ?? commonErrorDetail)(cause.response.data) : undefined;
  const hint = status !== undefined ? words.hints?.[status] : undefined;
  const suffix = `${said ? `: ${said}` : ''}${hint ? `; ${hint}` : ''}`;
  let message: string;
  if (status === 401) message = `${system} rejected the credentials (401)${suffix}`;
  else if (status === 403) message = `${system} refused access (403)${suffix}; check the user's rights`;
  else if (status === 404) message = `${system} has no such resource (404)${suffix}`;
  // The client's own message for a 4xx names the URL, query included: not for lastError, where a key in the query would show.
  else if (status !== undefined && !err.retryable) message = `${system} refused the request (${status})${suffix}`;
  else if (status !== undefined) message = `${system} answered ${status}${suffix} (${err.message})`;
  else if (cause.code && TIMED_OUT.has(cause.code)) message = `${system} did not answer in time (${err.message})`;
  else message = `cannot reach ${system} (${err.message})`;
  return new HubError(code, message, { cause: err });
}

/** One call through the connector's breaker-guarded client for `endpoint`; a failure comes back in words. */
export async function callSource<T = unknown>(
  ctx: ConnectorContext<{ timeoutMs?: number | undefined; retries?: number | undefined }>,
  endpoint: string,
  system: string,
  config: AxiosRequestConfig,
  words?: FailureWords,
): Promise<AxiosResponse<T>> {
  try {
    return await ctx.http(endpoint, httpOptions(ctx.settings)).request<T>(config);
  } catch (err) {
    throw explainFailure(system, err, words);
  }
}

/** The scheme, host and path of a URL, without credentials or query, for messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '')}`;
  } catch {
    return url;
  }
}
