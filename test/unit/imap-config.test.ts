import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../src/core/config/load-config.js';
import { resolveConnectorConfigs } from '../../src/connectors/runtime.js';
import { CONNECTOR_TYPES } from '../../src/connectors/registry.js';
import { imapConnector } from '../../src/connectors/imap/imap.connector.js';
import type { Connector, ConnectorContext } from '../../src/connectors/connector.js';
import type { ImapSettings } from '../../src/connectors/imap/imap.settings.js';
import { connectorContext } from '../support/connector-context.js';

const env = { IMAP_SALES_PASSWORD: 'p1', IMAP_IVANOV_APP_PASSWORD: 'p2', IMAP_YANDEX_APP_PASSWORD: 'p3' };

describe('imap connector settings', () => {
  it('the example config is valid, with the defaults filled in', () => {
    const config = loadConfigFile('config/connectors.imap.example.yaml', env);
    const resolved = resolveConnectorConfigs(config.connectors, CONNECTOR_TYPES);
    expect(resolved.map((r) => r.config.id)).toEqual(['mail-sales', 'mail-ivanov', 'mail-yandex']);
    expect(resolved[1]!.settings).toMatchObject({ tls: 'implicit', mailboxes: ['INBOX', '\\Sent'], idle: true, watchdogSec: 30, batchSize: 50, signaturePhones: true });
    expect(resolved[0]!.mapping.name).toBe('imap-email');
  });

  it('a missing password is a config error at start that names the setting', () => {
    const config = parseConfig({ connectors: [{ id: 'm', type: 'imap', settings: { host: 'imap.example.com', user: 'a@example.com' } }] });
    expect(() => resolveConnectorConfigs(config.connectors, CONNECTOR_TYPES)).toThrow('invalid config: /connectors/0/settings: missing property "password"');
  });

  it('refuses to guess which side is the company when nothing says so', async () => {
    const ctx = connectorContext(imapConnector as Connector, { id: 'm', settings: { host: 'imap.example.com', user: 'sales', password: 'x' } }, []);
    await expect(imapConnector.test!(ctx as ConnectorContext<ImapSettings>)).rejects.toThrow('imap: set settings.companyDomains or settings.companyAddresses');
  });
});
