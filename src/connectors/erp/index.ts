import type { Connector } from '../connector.js';
import { bitrix24Connector } from './bitrix24/bitrix24.connector.js';
import { quickbooksConnector } from './quickbooks/quickbooks.connector.js';
import { xeroConnector } from './xero/xero.connector.js';
import { odooConnector } from './odoo/odoo.connector.js';
import { onecConnector } from './onec/onec.connector.js';

/** The ERP/accounting connector types (customers become contacts; orders, invoices, payments interactions). */
export const ERP_CONNECTORS: readonly Connector[] = [
  quickbooksConnector as Connector,
  xeroConnector as Connector,
  bitrix24Connector as Connector,
  odooConnector as Connector,
  onecConnector as Connector,
];
