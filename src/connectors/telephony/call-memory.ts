import { Ajv } from 'ajv';
import { Type, type Static } from 'typebox';
import { HubError } from '../../core/errors.js';
import type { ConnectorMemory } from '../connector.js';

/** How long the events of a call are remembered: late recordings and summaries still find their call. */
export const CALL_MEMORY_TTL_SECONDS = 3 * 24 * 3600;
const MAX_EVENTS_PER_CALL = 200;
const MAX_MERGE_ROUNDS = 10;

const Fields = Type.Record(Type.String({ maxLength: 200 }), Type.String({ maxLength: 4000 }));
const Order = Type.Array(Type.Number(), { maxItems: 8 });

/**
 * One provider event of a call, as a connector's `accept` queues it: the call it belongs to, its
 * own key (the idempotency key), where it sits in the call's life, and its fields as strings.
 */
export const CallEventSchema = Type.Object(
  {
    callId: Type.String({ minLength: 1, maxLength: 500 }),
    key: Type.String({ minLength: 1, maxLength: 500 }),
    order: Order,
    fields: Fields,
  },
  { additionalProperties: false },
);
export type CallEvent = Static<typeof CallEventSchema>;

const StoredEventSchema = Type.Object({ key: Type.String(), order: Order, seenAt: Type.String(), fields: Fields }, { additionalProperties: false });
export type StoredEvent = Static<typeof StoredEventSchema>;
const StoredCallSchema = Type.Object({ v: Type.Literal(1), events: Type.Array(StoredEventSchema) }, { additionalProperties: false });
type StoredCall = Static<typeof StoredCallSchema>;

const ajv = new Ajv({ allErrors: false, strict: false });
const isCallEvent = ajv.compile<CallEvent>(CallEventSchema);
const isStoredCall = ajv.compile<StoredCall>(StoredCallSchema);

/** Checks an event read back from the queue; a malformed one fails its job for good. */
export function readCallEvent(payload: unknown): CallEvent {
  if (isCallEvent(payload)) return payload;
  throw new HubError('VALIDATION', `not a call event: ${ajv.errorsText(isCallEvent.errors)}`);
}

/** Compares positions in a call's life: element by element, a missing element first. */
export function compareOrder(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const x = a[i] ?? Number.NEGATIVE_INFINITY;
    const y = b[i] ?? Number.NEGATIVE_INFINITY;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function sorted(events: StoredEvent[]): StoredEvent[] {
  return [...events].sort((a, b) => compareOrder(a.order, b.order) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function load(value: unknown, log?: { warn(obj: object, msg: string): void }): StoredEvent[] {
  if (value === undefined || value === null) return [];
  if (isStoredCall(value)) return value.events;
  log?.warn({ errors: isStoredCall.errors }, 'remembered call state is not one this connector wrote; starting the call over');
  return [];
}

/**
 * Adds one event to what is remembered of its call and returns all its events in call order, so a
 * late, older event never overwrites newer state and a redelivered one changes nothing.
 *
 * The memory offers only get and set, and two workers may take two events of one call at once; so
 * after writing, the call is read back, and written again when another worker's write replaced
 * ours (after a random pause, so that colliding writers do not collide again). Within one process
 * (one Redis connection, commands in order) that leaves no gap; across processes a write can still
 * land between another worker's read and write and drop an event from the memory — a
 * compare-and-set in ConnectorMemory would close that gap.
 */
export async function rememberCallEvent(
  memory: ConnectorMemory,
  event: CallEvent,
  options: { now?: () => Date; log?: { warn(obj: object, msg: string): void } } = {},
): Promise<StoredEvent[]> {
  const memoryKey = `call:${event.callId}`;
  const now = options.now ?? (() => new Date());
  for (let round = 0; round < MAX_MERGE_ROUNDS; round += 1) {
    const known = load(await memory.get(memoryKey), options.log);
    if (known.some((e) => e.key === event.key)) return sorted(known);
    if (known.length >= MAX_EVENTS_PER_CALL) {
      options.log?.warn({ callId: event.callId, key: event.key }, `call has ${MAX_EVENTS_PER_CALL} events remembered; this one is left out`);
      return sorted(known);
    }
    const events = sorted([...known, { key: event.key, order: event.order, seenAt: now().toISOString(), fields: event.fields }]);
    await memory.set(memoryKey, { v: 1, events } satisfies StoredCall, CALL_MEMORY_TTL_SECONDS);
    const stored = load(await memory.get(memoryKey), options.log);
    if (stored.some((e) => e.key === event.key)) return sorted(stored);
    // Writers that collided would collide again in step; a random pause lets one go first.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (round + 1)));
  }
  throw new HubError('CONNECTOR_BUSY', `events of call ${event.callId} kept replacing each other; will retry`);
}

/** The value of a field in the last event (in call order) that has it. */
export function latest(events: readonly StoredEvent[], field: string): string | undefined {
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const value = events[i]?.fields[field];
    if (value !== undefined && value.trim() !== '') return value;
  }
  return undefined;
}

/** The value of a field in the first event (in call order) that has it. */
export function earliest(events: readonly StoredEvent[], field: string): string | undefined {
  for (const e of events) {
    const value = e.fields[field];
    if (value !== undefined && value.trim() !== '') return value;
  }
  return undefined;
}
