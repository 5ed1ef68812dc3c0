import { pino, stdSerializers, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

const SECRET_KEYS = ['password', 'secret', 'apiKey', 'token', 'clientSecret', 'accessToken', 'refreshToken'];

/**
 * Paths whose values never reach a log line. Secrets are looked for a few levels deep: a logged
 * connector carries them in `settings`, and an HTTP client's error (axios) carries the request's
 * headers and auth in `err.config`.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'config.auth',
  'config.connectors[*].settings',
  ...SECRET_KEYS.flatMap((key) => [`*.${key}`, `*.*.${key}`, `*.*.*.${key}`]),
  ...['.authorization', '.Authorization', '.cookie', '.Cookie', '["x-api-key"]'].flatMap((h) => [`*.headers${h}`, `*.*.headers${h}`, `*.*.*.headers${h}`]),
  'err.config.auth',
  'err.config.data',
  'err.response.config.auth',
];

type HttpClientError = Error & { isAxiosError: true; code?: string; config?: { method?: string; url?: string }; response?: { status?: number } };

function isHttpClientError(err: unknown): err is HttpClientError {
  return err instanceof Error && (err as { isAxiosError?: unknown }).isAxiosError === true;
}

/**
 * An HTTP client's error (axios) holds the whole request: its raw header text with the
 * Authorization line, and the URL with any credentials. Logged, it keeps what says what failed.
 */
function withoutHttpDetails(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error) || depth > 5) return err;
  const cause = (err as { cause?: unknown }).cause;
  if (isHttpClientError(err)) {
    const url = err.config?.url?.replace(/\/\/[^/@]*@/, '//');
    const plain = Object.assign(new Error(err.message), { code: err.code, status: err.response?.status, method: err.config?.method, url });
    plain.name = err.name;
    plain.stack = err.stack;
    if (cause !== undefined) plain.cause = withoutHttpDetails(cause, depth + 1);
    return plain;
  }
  const cleanCause = withoutHttpDetails(cause, depth + 1);
  if (cleanCause === cause) return err;
  // Only a copy: the error may still be thrown on or inspected elsewhere.
  const copy = Object.assign(Object.create(Object.getPrototypeOf(err) as object) as Error, err, { message: err.message, stack: err.stack, cause: cleanCause });
  return copy;
}

export function createLogger(options: { level?: string; pretty?: boolean; destination?: DestinationStream } = {}): Logger {
  const base: LoggerOptions = {
    level: options.level ?? process.env['LOG_LEVEL'] ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: (err: unknown) => stdSerializers.err(withoutHttpDetails(err) as Error) },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.pretty) return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard' } } });
  return pino(base);
}
