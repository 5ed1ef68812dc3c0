import type { Connector } from './connector.js';
import { webhookConnector } from './webhook/webhook.connector.js';

/** Every connector type the hub knows, by type name. Adding a type means adding it here. */
export const CONNECTOR_TYPES: ReadonlyMap<string, Connector> = new Map(([webhookConnector] as Connector[]).map((c) => [c.type, c]));
