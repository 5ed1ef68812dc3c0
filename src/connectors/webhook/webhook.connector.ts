import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Type } from 'typebox';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { HubError } from '../../core/errors.js';
import { defineConnector, type WebhookRequest } from '../connector.js';

const Settings = Type.Object(
  {
    signature: Type.Object(
      {
        scheme: Type.Union([Type.Literal('hmac-sha256'), Type.Literal('standard-webhooks')], {
          description: 'hmac-sha256: HMAC of the raw body in a header; standard-webhooks: webhook-id/-timestamp/-signature headers',
        }),
        secret: Type.String({ minLength: 16, description: 'shared secret (whsec_… for standard-webhooks); use ${ENV_VAR}' }),
        header: Type.String({ default: 'x-signature', description: 'hmac-sha256: header carrying the signature' }),
        encoding: Type.Union([Type.Literal('hex'), Type.Literal('base64')], { default: 'hex' }),
        prefix: Type.String({ default: '', description: 'hmac-sha256: text before the digest, e.g. "sha256="' }),
      },
      { additionalProperties: false },
    ),
    eventIdPath: Type.Optional(Type.String({ description: 'dotted path of the event id in the body; default: webhook-id header, else the body hash' })),
  },
  { additionalProperties: false },
);

function header(request: WebhookRequest, name: string): string | undefined {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function readPath(body: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), body);
}

/**
 * Any system that can POST JSON and sign it: an Asterisk/FreePBX sidecar, a script, a low-code flow.
 * Signed with HMAC-SHA256 over the raw body, or per Standard Webhooks (id, timestamp, body; stale
 * timestamps refused). Without a mapping the body is one record or `{records: [...]}`.
 */
export const webhookConnector = defineConnector({
  type: 'webhook',
  version: 1,
  description: 'Generic signed JSON webhook (HMAC-SHA256 or Standard Webhooks)',
  settingsSchema: Settings,
  mappings: [],
  webhook: {
    verify(ctx, request) {
      const sig = ctx.settings.signature;
      if (sig.scheme === 'standard-webhooks') {
        try {
          new Webhook(sig.secret).verify(request.rawBody.toString('utf8'), {
            'webhook-id': header(request, 'webhook-id') ?? '',
            'webhook-timestamp': header(request, 'webhook-timestamp') ?? '',
            'webhook-signature': header(request, 'webhook-signature') ?? '',
            // Only the signature is checked here; the body is parsed (and refused if not JSON) by accept().
          }, { jsonParse: false });
          return;
        } catch (cause) {
          if (cause instanceof WebhookVerificationError) throw new HubError('UNAUTHORIZED', `webhook signature refused: ${cause.message}`, { cause });
          throw cause;
        }
      }
      const given = header(request, sig.header);
      if (!given || !given.startsWith(sig.prefix)) throw new HubError('UNAUTHORIZED', `missing ${sig.header} signature`);
      const expected = Buffer.from(createHmac('sha256', sig.secret).update(request.rawBody).digest(sig.encoding));
      const actual = Buffer.from(given.slice(sig.prefix.length));
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new HubError('UNAUTHORIZED', `${sig.header} does not match the body`);
    },
    accept(ctx, request) {
      if (request.method !== 'POST' || request.body === undefined) throw new HubError('VALIDATION', 'post a JSON body');
      const fromBody = ctx.settings.eventIdPath ? readPath(request.body, ctx.settings.eventIdPath) : undefined;
      const id = (typeof fromBody === 'string' || typeof fromBody === 'number' ? String(fromBody) : undefined) ?? header(request, 'webhook-id') ?? createHash('sha256').update(request.rawBody).digest('hex');
      return { events: [{ id, payload: request.body }] };
    },
  },
});
