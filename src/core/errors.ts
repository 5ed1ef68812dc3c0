/**
 * The one error taxonomy of crm-hub. Every expected failure is a HubError with a stable code;
 * the HTTP layer turns it into problem+json, the worker turns `retryable === false` into
 * BullMQ's UnrecoverableError.
 */
export const ErrorCodes = {
  CONFIG_INVALID: { status: 500, title: 'Invalid configuration', retryable: false },
  VALIDATION: { status: 400, title: 'Invalid request', retryable: false },
  UNAUTHORIZED: { status: 401, title: 'Unauthorized', retryable: false },
  FORBIDDEN: { status: 403, title: 'Forbidden', retryable: false },
  NOT_FOUND: { status: 404, title: 'Not found', retryable: false },
  CONFLICT: { status: 409, title: 'Conflict', retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Payload too large', retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type', retryable: false },
  RATE_LIMITED: { status: 429, title: 'Too many requests', retryable: true },
  QUEUE_UNAVAILABLE: { status: 503, title: 'Queue unavailable', retryable: true },
  STORE_UNAVAILABLE: { status: 503, title: 'Store unavailable', retryable: true },
  REDIS_UNAVAILABLE: { status: 503, title: 'Redis unavailable', retryable: true },
  STARTUP: { status: 500, title: 'Cannot start', retryable: false },
  UPSTREAM_UNAVAILABLE: { status: 503, title: 'Source system unavailable', retryable: true },
  UPSTREAM_REJECTED: { status: 502, title: 'Source system refused the request', retryable: false },
  CONNECTOR_BUSY: { status: 409, title: 'Connector busy', retryable: true },
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export type FieldError = { path: string; message: string };

export class HubError extends Error {
  readonly code: `HUB_ERR_${ErrorCode}`;
  readonly status: number;
  readonly title: string;
  readonly retryable: boolean;
  readonly errors: FieldError[] | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; errors?: FieldError[] } = {}) {
    super(message, { cause: options.cause });
    const spec = ErrorCodes[code];
    this.name = 'HubError';
    this.code = `HUB_ERR_${code}`;
    this.status = spec.status;
    this.title = spec.title;
    this.retryable = spec.retryable;
    this.errors = options.errors;
  }
}

export function isHubError(err: unknown): err is HubError {
  return err instanceof HubError;
}
