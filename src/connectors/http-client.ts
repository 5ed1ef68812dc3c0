import axios, { AxiosError, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import CircuitBreaker from 'opossum';
import type { Logger } from 'pino';
import { HubError } from '../core/errors.js';

export type BreakerState = 'closed' | 'open' | 'halfOpen';

export type HttpClient = {
  request<T = unknown>(config: AxiosRequestConfig): Promise<AxiosResponse<T>>;
  state(): BreakerState;
  close(): void;
};

export type HttpClientOptions = {
  name: string;
  log: Logger;
  timeoutMs?: number;
  retries?: number;
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Failures in a rolling window (percent) that open the breaker, after at least `volumeThreshold` calls. */
  errorThresholdPercentage?: number;
  volumeThreshold?: number;
  /** How long an open breaker waits before letting one call through (half-open). */
  resetTimeoutMs?: number;
  onStateChange?: (state: BreakerState) => void;
};

// 4xx means our request was wrong (bad credentials, missing resource): the remote end is healthy,
// so it must not trip the breaker, and retrying the same request will not help. 408 and 429 are
// the remote end asking for time.
function isClientError(err: unknown): boolean {
  const status = err instanceof AxiosError ? err.response?.status : undefined;
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** Seconds or an HTTP date in Retry-After, in milliseconds; undefined when absent or unreadable. */
export function retryAfterMs(header: unknown, now = Date.now()): number | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** axios inside one opossum breaker for one remote endpoint, with timeouts and retry with backoff. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const timeout = options.timeoutMs ?? 10_000;
  const retries = options.retries ?? 3;
  const backoff = options.backoffMs ?? 500;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const breaker = new CircuitBreaker((config: AxiosRequestConfig) => axios.request({ timeout, ...config }), {
    timeout: false,
    errorFilter: isClientError,
    errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
    volumeThreshold: options.volumeThreshold ?? 5,
    resetTimeout: options.resetTimeoutMs ?? 30_000,
    name: options.name,
  });
  const report = (state: BreakerState) => {
    options.log.warn({ endpoint: options.name, breaker: state }, `circuit breaker ${state}`);
    options.onStateChange?.(state);
  };
  breaker.on('open', () => report('open'));
  breaker.on('halfOpen', () => report('halfOpen'));
  breaker.on('close', () => report('closed'));

  async function request<T>(config: AxiosRequestConfig): Promise<AxiosResponse<T>> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        return (await breaker.fire(config)) as AxiosResponse<T>;
      } catch (err) {
        if (breaker.opened && !(err instanceof AxiosError)) {
          throw new HubError('UPSTREAM_UNAVAILABLE', `${options.name}: circuit breaker is open after repeated failures; will try again later`, { cause: err });
        }
        const status = err instanceof AxiosError ? err.response?.status : undefined;
        if (isClientError(err)) {
          throw new HubError('UPSTREAM_REJECTED', `${options.name} answered ${status} to ${config.method ?? 'GET'} ${config.url ?? ''}`, { cause: err });
        }
        if (attempt >= retries) {
          const what = status ? `answered ${status}` : `did not answer (${err instanceof AxiosError ? (err.code ?? err.message) : String(err)})`;
          throw new HubError('UPSTREAM_UNAVAILABLE', `${options.name} ${what} after ${attempt + 1} attempts`, { cause: err });
        }
        const asked = err instanceof AxiosError ? retryAfterMs(err.response?.headers['retry-after']) : undefined;
        const wait = Math.min(maxBackoff, asked ?? backoff * 2 ** attempt * (0.5 + Math.random() / 2));
        options.log.debug({ endpoint: options.name, attempt, wait, status }, 'retrying');
        await sleep(wait);
      }
    }
  }

  return {
    request,
    state: () => (breaker.opened ? 'open' : breaker.halfOpen ? 'halfOpen' : 'closed'),
    close: () => breaker.shutdown(),
  };
}
