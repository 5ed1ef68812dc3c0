import type { Connector } from '../connector.js';
import { asteriskConnector } from './asterisk.connector.js';
import { mangoConnector } from './mango.connector.js';
import { twilioConnector } from './twilio.connector.js';
import { vonageConnector } from './vonage.connector.js';
import { zadarmaConnector } from './zadarma.connector.js';

/** The telephony connector types (calls and SMS become interactions). */
export const TELEPHONY_CONNECTORS: readonly Connector[] = [twilioConnector, mangoConnector, zadarmaConnector, vonageConnector, asteriskConnector];
