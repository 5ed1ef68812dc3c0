import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** helmet options of this route over the hub's (e.g. a script that other sites load). */
    securityHeaders?: HelmetOptions;
  }
}

/**
 * The headers helmet's middleware sets for `options`. Without per-request CSP nonces or directive
 * functions they depend on the options alone, so they are computed once: @fastify/helmet built a
 * new helmet middleware (parsing the CSP directives again) on every request, a tenth of a profile
 * read's CPU.
 */
export function helmetHeaders(options: Readonly<HelmetOptions>): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string) {
      headers[name.toLowerCase()] = value;
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return Object.freeze(headers);
}

/** Security headers on every answer, refusals and 404s included; a route may adjust them with `config.securityHeaders`. */
export function securityHeaders(app: FastifyInstance, options: Readonly<HelmetOptions>): void {
  const common = helmetHeaders(options);
  const perRoute = new WeakMap<HelmetOptions, Readonly<Record<string, string>>>();
  const headersOf = (own: HelmetOptions) => {
    let headers = perRoute.get(own);
    if (!headers) {
      // Both are written with helmet's current option names, so the merge is one valid set of options.
      headers = helmetHeaders({ ...options, ...own } as HelmetOptions);
      perRoute.set(own, headers);
    }
    return headers;
  };
  app.addHook('onRequest', (request, reply, done) => {
    const own = request.routeOptions.config.securityHeaders;
    reply.headers(own ? headersOf(own) : common);
    done();
  });
}
