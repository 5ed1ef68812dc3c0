import nock from 'nock';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { Connector, ConnectorContext } from '../../src/connectors/connector.js';
import { createHttpClient, type HttpClient } from '../../src/connectors/http-client.js';
import { resolveConnectorConfigs } from '../../src/connectors/runtime.js';
import { createLogger } from '../../src/core/logger.js';
import type { MappingDocument } from '../../src/mappings/mapping.schema.js';

/**
 * A context like the runtime's for calling a connector's functions directly: settings validated with
 * defaults filled in as at hub start, HTTP clients with short backoff (pushed to `clients` so a test
 * can close them), and a memory that remembers nothing.
 */
export function connectorContext(
  connector: Connector,
  config: { id: string; settings: Record<string, unknown>; mapping?: MappingDocument },
  clients: HttpClient[],
): ConnectorContext<unknown> {
  const [resolved] = resolveConnectorConfigs([{ enabled: true, type: connector.type, ...config }], new Map([[connector.type, connector]]));
  const log = createLogger({ level: 'silent' });
  const own = new Map<string, HttpClient>();
  return {
    id: config.id,
    settings: resolved!.settings,
    log,
    http(endpoint, options) {
      let client = own.get(endpoint);
      if (!client) {
        client = createHttpClient({ name: `${config.id}/${endpoint}`, log, ...options, backoffMs: 5 });
        own.set(endpoint, client);
        clients.push(client);
      }
      return client;
    },
    memory: { get: async () => undefined, set: async () => undefined },
  };
}

/**
 * For a test file that calls connectors directly against nock: no real network while it runs,
 * interceptors cleared after each test, and the HTTP clients it made closed at the end.
 */
export function offlineWithNock(clients: HttpClient[]): void {
  beforeAll(() => {
    nock.disableNetConnect();
  });
  afterEach(() => {
    nock.cleanAll();
  });
  afterAll(() => {
    for (const c of clients) c.close();
    nock.enableNetConnect();
  });
}
