import type { Connector } from './connector.js';
import { webhookConnector } from './webhook/webhook.connector.js';
import { TELEPHONY_CONNECTORS } from './telephony/index.js';
import { ERP_CONNECTORS } from './erp/index.js';
import { restPollerConnector } from './rest-poller/rest-poller.connector.js';
import { imapConnector } from './imap/imap.connector.js';
import { FORM_SERVICE_CONNECTORS } from './form-services/index.js';

/** Every connector type the hub knows, by type name. Adding a type means adding it to one of these lists. */
export const CONNECTOR_TYPES: ReadonlyMap<string, Connector> = new Map(
  [webhookConnector as Connector, restPollerConnector as Connector, imapConnector as Connector, ...TELEPHONY_CONNECTORS, ...ERP_CONNECTORS, ...FORM_SERVICE_CONNECTORS].map((c) => [c.type, c]),
);
