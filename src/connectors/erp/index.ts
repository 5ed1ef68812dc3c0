import type { Connector } from '../connector.js';

/** The ERP/accounting connector types (customers become contacts; orders, invoices, payments interactions). */
export const ERP_CONNECTORS: readonly Connector[] = [];
