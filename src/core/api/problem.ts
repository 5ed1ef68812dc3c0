import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HubError, isHubError, type FieldError } from '../errors.js';

export type Problem = { type: string; title: string; status: number; detail?: string; code?: string; errors?: FieldError[] };

const PROBLEM_BASE = 'https://crm-hub.dev/problems/';

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type('application/problem+json').send(problem);
}

function fromHubError(err: HubError): Problem {
  return {
    type: `${PROBLEM_BASE}${err.code.replace(/^HUB_ERR_/, '').toLowerCase().replace(/_/g, '-')}`,
    title: err.title,
    status: err.status,
    detail: err.message,
    code: err.code,
    ...(err.errors ? { errors: err.errors } : {}),
  };
}

type AjvLikeError = { instancePath?: string; message?: string; keyword?: string; params?: Record<string, unknown> };

export function fieldErrors(errors: readonly AjvLikeError[], prefix = ''): FieldError[] {
  return errors.map((e) => {
    const path = `${prefix}${e.instancePath ?? ''}` || '/';
    if (e.keyword === 'additionalProperties') return { path, message: `unknown property "${String(e.params?.['additionalProperty'])}"` };
    if (e.keyword === 'required') {
      // ajv names one missing property; TypeBox's own checker lists them.
      const missing = e.params?.['missingProperty'] ?? (e.params?.['requiredProperties'] as unknown[] | undefined)?.join('", "');
      return { path, message: `missing property "${String(missing)}"` };
    }
    return { path, message: e.message ?? 'is invalid' };
  });
}

// Fastify's own client errors, by their stable codes, mapped to ours.
const FASTIFY_CLIENT_ERRORS: Record<string, ConstructorParameters<typeof HubError>[0]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'VALIDATION',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_PARTS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_FIELDS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
};

/** Turns anything thrown in a request into problem+json; 5xx details never reach the client. */
export function toProblem(err: unknown, request: FastifyRequest): Problem {
  if (isHubError(err)) return fromHubError(err);
  const fe = err as FastifyError & { validation?: AjvLikeError[]; validationContext?: string };
  if (fe.validation) {
    const errors = fieldErrors(fe.validation, fe.validationContext === 'body' ? '' : `/${fe.validationContext ?? ''}`);
    return fromHubError(new HubError('VALIDATION', errors.map((e) => `${e.path}: ${e.message}`).join('; '), { errors }));
  }
  const mapped = fe.code ? FASTIFY_CLIENT_ERRORS[fe.code] : undefined;
  if (mapped) return fromHubError(new HubError(mapped, fe.message));
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Body parse errors (bad JSON, bad encoding) and other client errors fastify raises.
    const code = fe.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : fe.statusCode === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : fe.statusCode === 429 ? 'RATE_LIMITED' : fe.statusCode === 404 ? 'NOT_FOUND' : 'VALIDATION';
    return { ...fromHubError(new HubError(code, fe.message)), status: fe.statusCode };
  }
  request.log.error({ err }, 'unexpected error');
  return { type: `${PROBLEM_BASE}internal`, title: 'Internal error', status: 500, detail: 'an unexpected error happened; it was logged' };
}

/**
 * Fastify's clientErrorHandler: a request Node's HTTP parser refuses (a CR or LF smuggled into a
 * header, conflicting lengths, headers too large) gets a problem+json like any other 4xx.
 */
export function sendClientErrorProblem(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const title = STATUS_CODES[status] ?? 'Bad Request';
  const body = JSON.stringify({ type: `${PROBLEM_BASE}${title.toLowerCase().replace(/\W+/g, '-')}`, title, status, detail: 'the request is not valid HTTP/1.1' });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${title}\r\nConnection: close\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
  socket.destroy();
}
