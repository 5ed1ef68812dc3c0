import { hash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { ALL_SCOPES, type Scope } from '../config/config.schema.js';
import { HubError } from '../errors.js';

export type ApiKey = { name: string; scopes: readonly Scope[] };
type StoredKey = ApiKey & { hash: Buffer };

export type RouteAccess = Scope | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a key needs for this route; 'public' routes check their own secret. */
    access?: RouteAccess;
  }
  interface FastifyRequest {
    apiKey?: ApiKey;
  }
}

export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}

export type KeyRing = { verify(token: string): ApiKey | null; readonly size: number };

/** Keys from the config (SHA-256 hashes) plus the bootstrap HUB_API_KEY, which has every scope. */
export function createKeyRing(configured: readonly { name: string; sha256: string; scopes: readonly Scope[] }[], bootstrapKey?: string): KeyRing {
  const keys: StoredKey[] = configured.map((k) => ({ name: k.name, scopes: k.scopes, hash: Buffer.from(k.sha256, 'hex') }));
  if (bootstrapKey) keys.push({ name: 'HUB_API_KEY', scopes: ALL_SCOPES, hash: Buffer.from(sha256Hex(bootstrapKey), 'hex') });
  return {
    size: keys.length,
    verify(token) {
      // One-shot hashing: a Hash object per request cost twice as much.
      const presented = hash('sha256', token, 'buffer');
      let found: StoredKey | null = null;
      // Compare against every key in constant time, so timing tells nothing about which matched.
      for (const key of keys) if (timingSafeEqual(presented, key.hash) && !found) found = key;
      return found ? { name: found.name, scopes: found.scopes } : null;
    },
  };
}

/** The key in `Authorization: Bearer …`, or the password of HTTP Basic auth (for browsers). */
export function presentedKey(request: FastifyRequest, allowBasic: boolean): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space < 0) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  // A credential is one token: "Bearer <key> junk" must not pass as "<key>".
  if (!value || /\s/.test(value)) return null;
  if (scheme === 'bearer') return value;
  if (allowBasic && scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : null;
  }
  return null;
}

export function authorize(keys: KeyRing, request: FastifyRequest, needed: Scope, allowBasic = false): ApiKey {
  const token = presentedKey(request, allowBasic);
  if (!token) throw new HubError('UNAUTHORIZED', 'send an API key as "Authorization: Bearer <key>"');
  const key = keys.verify(token);
  if (!key) throw new HubError('UNAUTHORIZED', 'the API key is not valid');
  if (!key.scopes.includes(needed)) throw new HubError('FORBIDDEN', `this key lacks the "${needed}" scope`);
  return key;
}

/**
 * onRequest hook: every route declares its access; a route that forgot is refused (fail closed).
 * A callback hook, as it does no I/O (an async one costs a promise per request); Fastify turns
 * what it throws into the refusal.
 */
export function createAuthHook(keys: KeyRing) {
  return function checkAccess(request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const access = request.routeOptions.config.access;
    // Unknown routes answer 404 to anyone: the route list is public in the OpenAPI document anyway.
    if (access !== 'public' && !request.is404) request.apiKey = authorize(keys, request, access ?? 'admin');
    done();
  };
}
