import type { Connector } from '../connector.js';

/** The telephony connector types (calls and SMS become interactions). */
export const TELEPHONY_CONNECTORS: readonly Connector[] = [];
