import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { AuditEntryInput, AuditStore } from '../audit/audit.store.js';
import { presentedKey, sha256Hex, type KeyRing } from './auth.js';
import { BOARD_PATH } from './queue-board.js';

/** What a route adds to its audit entry; `summary` replaces the default one. Never personal data. */
export type AuditDetail = { summary?: string; profileIds?: string[]; [field: string]: unknown };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Audit this route even though it is a read (e.g. a person's export). */
    audit?: boolean;
  }
  interface FastifyRequest {
    auditDetail?: AuditDetail;
  }
}

/** How many hex digits of the SHA-256 of a refused key are kept: enough to tell keys apart, too few to matter. */
const FINGERPRINT_HEX = 12;

export type AuditHookDeps = { audit: Pick<AuditStore, 'append'>; keys: KeyRing; log: Logger };

/**
 * onSend hook: records every write or admin action (any method but GET/HEAD on a route whose
 * access is write or admin), every route that opts in with `config.audit`, and every refused key
 * (401/403) on a keyed route. Successful ingest is not recorded: it is the high-volume path.
 * It runs when the status is final but before the answer leaves, so the log is in the order the
 * answers were given and a client that got its answer finds its entry. A failed audit write is
 * logged loudly and the answer goes out unchanged: never a 5xx because of the audit.
 */
export function createAuditHook(deps: AuditHookDeps) {
  return function auditRequest(request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void): void | Promise<unknown> {
    const entry = request.is404 ? null : auditEntry(request, reply.statusCode, deps.keys);
    // Most answers (reads) are not audited: they go on at once, without the promise an async hook costs.
    if (!entry) return done(null, payload);
    return deps.audit.append(entry).then(
      () => payload,
      (err: unknown) => {
        deps.log.error({ err, action: `${entry.method} ${entry.route}`, actor: entry.actor, status: entry.status }, 'AUDIT WRITE FAILED: this action is missing from the audit log');
        return payload;
      },
    );
  };
}

function auditEntry(request: FastifyRequest, status: number, keys: KeyRing): AuditEntryInput | null {
  const { url, config } = request.routeOptions;
  const route = url ?? request.url.split('?')[0] ?? '';
  const board = route.startsWith(BOARD_PATH);
  // The queue dashboard checks its own key (it also takes Basic auth); what it does are admin actions.
  const access = board ? 'admin' : (config.access ?? 'admin');
  const keyed = access !== 'public';
  const refused = keyed && (status === 401 || status === 403);
  const write = (access === 'write' || access === 'admin') && request.method !== 'GET' && request.method !== 'HEAD';
  if (!refused && !write && config.audit !== true) return null;

  const who = actorOf(request, keys, board);
  const { summary, profileIds = [], ...rest } = request.auditDetail ?? {};
  const params = isObject(request.params) ? request.params : {};
  return {
    ...who,
    method: request.method,
    route,
    params,
    status,
    summary: summary ?? defaultSummary(status, who.actor, access),
    detail: Object.keys(rest).length > 0 ? rest : null,
    ip: request.ip ?? null,
    profileIds: [...new Set([...profileIdsOf(route, params, request.body), ...profileIds])],
  };
}

/** The key's name; for a key the hub does not know, "unknown" and a fingerprint, never the key. */
function actorOf(request: FastifyRequest, keys: KeyRing, board: boolean): { actor: string; keyFingerprint: string | null } {
  if (request.apiKey) return { actor: request.apiKey.name, keyFingerprint: null };
  const token = presentedKey(request, board);
  if (!token) return { actor: 'unknown', keyFingerprint: null };
  // A valid key refused for its scope (403) is named: the hook that refused it did not keep it.
  const known = keys.verify(token);
  if (known) return { actor: known.name, keyFingerprint: null };
  return { actor: 'unknown', keyFingerprint: `sha256:${sha256Hex(token).slice(0, FINGERPRINT_HEX)}` };
}

function defaultSummary(status: number, actor: string, access: string): string {
  if (status === 401) return actor === 'unknown' ? 'refused: no valid API key' : 'refused: key not accepted here';
  if (status === 403) return `refused: the key lacks the "${access}" scope`;
  return status < 400 ? `done (${status})` : `failed (${status})`;
}

/** The profiles a request is about: the `:id` of a profile route, and a `profileId` in its body. */
function profileIdsOf(route: string, params: Record<string, unknown>, body: unknown): string[] {
  if (!route.startsWith('/v1/profiles/:id')) return [];
  const ids = typeof params['id'] === 'string' ? [params['id']] : [];
  if (isObject(body) && typeof body['profileId'] === 'string') ids.push(body['profileId']);
  return ids;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
