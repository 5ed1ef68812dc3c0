import type { IncomingHttpHeaders } from 'node:http';
import type { TSchema, Static } from 'typebox';
import type { Logger } from 'pino';
import type { MappingDocument } from '../mappings/mapping.schema.js';
import type { HttpClient } from './http-client.js';

/** An inbound webhook call as the connector sees it: the exact bytes, for signatures, and the parsed body. */
export type WebhookRequest = {
  method: string;
  /** The URL as this process received it; behind a proxy it differs from what the provider called (Twilio signs that one: use a publicUrl setting). */
  url: string;
  headers: IncomingHttpHeaders;
  query: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
  /** JSON or urlencoded body, parsed; undefined when empty. */
  body: unknown;
};

/** One provider event taken from a delivery, with the provider's id for it (the idempotency key). */
export type WebhookEvent = { id: string; payload: unknown };

export type WebhookReply = { status: number; contentType?: string; body?: string };

export type WebhookAcceptance = { events: WebhookEvent[]; reply?: WebhookReply };

/** Small per-connector key-value memory in Redis (e.g. call legs seen so far), with a time to live. */
export type ConnectorMemory = {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttlSeconds: number): Promise<void>;
};

/** Per-endpoint HTTP options (a connector's `timeoutMs`/`retries` settings); they apply when the endpoint's client is first made. */
export type HttpEndpointOptions = { timeoutMs?: number; retries?: number; resetTimeoutMs?: number; volumeThreshold?: number };

export type ConnectorContext<Settings> = {
  id: string;
  settings: Settings;
  log: Logger;
  /** axios behind an opossum circuit breaker, one per endpoint name; retries with backoff, honours Retry-After. */
  http(endpoint: string, options?: HttpEndpointOptions): HttpClient;
  memory: ConnectorMemory;
};

/** Something a poll read but cannot turn into a payload (an unparsable email): it goes to the failed set of connector events with its error. */
export type PollFailure = { id: string; error: string; payload: unknown };

export type PollOutcome<Checkpoint> = {
  payloads: unknown[];
  /** Saved only after the records of these payloads are durably queued. */
  checkpoint: Checkpoint;
  /** More pages are waiting: the poller calls again at once. */
  more: boolean;
  /** Queued as failed connector events (the id dedupes, like an event id) before the checkpoint moves past them. */
  failures?: PollFailure[];
};

/** What the runtime tells a poll about the job it runs in; a poll that waits for news (IMAP IDLE) needs it. */
export type PollRun = {
  /** Aborted when this process stops its poll worker: a waiting poll returns at once. */
  signal: AbortSignal;
  /** When this poll job started (ms since epoch); the same for every page of the job. */
  startedAt: number;
  /** How often the connector is polled: a poll may wait until about startedAt + everyMs. */
  everyMs: number;
};

/**
 * A connector type: plain data and functions. It either receives (webhook) or polls (REST), or both;
 * its source payloads become records through a mapping (the built-in one unless the config names
 * another).
 */
export type Connector<Schema extends TSchema = TSchema, Checkpoint = unknown> = {
  type: string;
  version: number;
  description: string;
  /** JSON Schema of the connector's `settings` in the config; validated at start, errors name the path. */
  settingsSchema: Schema;
  /** Built-in mappings; the first is the default. */
  mappings: readonly MappingDocument[];
  /** The config must give a `mapping` (a type that knows nothing of its payloads, e.g. the generic REST poller). */
  mappingRequired?: boolean;
  /** Checks the connection and credentials; resolves to a sentence saying what works, throws a HubError saying what does not. */
  test?(ctx: ConnectorContext<Static<Schema>>): Promise<string>;
  webhook?: {
    /** Throws HubError UNAUTHORIZED when the call is not authentic. Runs before anything is parsed into events. */
    verify(ctx: ConnectorContext<Static<Schema>>, request: WebhookRequest): void | Promise<void>;
    /** Splits an authentic delivery into events and says what to answer the provider. */
    accept(ctx: ConnectorContext<Static<Schema>>, request: WebhookRequest): WebhookAcceptance | Promise<WebhookAcceptance>;
  };
  /** Runs in a worker for each accepted event: fetches what it references, merges with what came before. Default: the event itself. */
  prepare?(ctx: ConnectorContext<Static<Schema>>, event: WebhookEvent): Promise<unknown[]>;
  poll?: {
    everyMs: number;
    /** Validates a checkpoint read back from the store; returns null when it is not one this connector wrote. */
    readCheckpoint(value: unknown): Checkpoint | null;
    run(ctx: ConnectorContext<Static<Schema>>, checkpoint: Checkpoint | null, run?: PollRun): Promise<PollOutcome<Checkpoint>>;
  };
};

/** Declares a connector type; the identity function, there for type inference. */
export function defineConnector<Schema extends TSchema, Checkpoint = unknown>(connector: Connector<Schema, Checkpoint>): Connector<Schema, Checkpoint> {
  return connector;
}
