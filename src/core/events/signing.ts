import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** What a subscriber receives: the event's type and time, and its data with the profile it concerns. */
export type DeliveryPayload = { type: string; timestamp: string; data: Record<string, unknown> };

export type OutboxEvent = { id: string; type: string; profileId: string | null; data: Record<string, unknown>; createdAt: string };

export function payloadOf(event: OutboxEvent): DeliveryPayload {
  return { type: event.type, timestamp: event.createdAt, data: { ...event.data, profileId: event.profileId } };
}

/** A new signing secret in the Standard Webhooks form: `whsec_` and 32 random bytes in base64. */
export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** A secret in the Standard Webhooks form whose key has 24 to 64 bytes, as the spec asks. */
export function isValidSecret(secret: string): boolean {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  if (!m?.[1]) return false;
  const key = Buffer.from(m[1], 'base64');
  return key.length >= 24 && key.length <= 64 && key.toString('base64').replace(/=+$/, '') === m[1].replace(/=+$/, '');
}

/**
 * The Standard Webhooks headers for one message. `messageId` stays the same across retries of a
 * delivery, so a subscriber can drop a message it has already handled.
 */
export function signedHeaders(secret: string, messageId: string, body: string, at: Date): Record<string, string> {
  const timestamp = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestamp.getTime() / 1000),
    'webhook-signature': new Webhook(secret).sign(messageId, timestamp, body),
  };
}

/** Does a subscription's list of event patterns ("*", "alert.*", "profile.created") take this type? */
export function matchesEvent(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => p === '*' || p === type || (p.endsWith('.*') && type.startsWith(p.slice(0, -1))));
}
