import type { Connector } from '../connector.js';
import { googleFormsConnector } from './google-forms.connector.js';
import { jotformConnector } from './jotform.connector.js';
import { tildaConnector } from './tilda.connector.js';
import { typeformConnector } from './typeform.connector.js';
import { webflowConnector } from './webflow.connector.js';

/** The form service connector types: each submission becomes a `form` interaction on the respondent's profile. */
export const FORM_SERVICE_CONNECTORS: readonly Connector[] = [
  typeformConnector as Connector,
  webflowConnector as Connector,
  jotformConnector as Connector,
  tildaConnector as Connector,
  googleFormsConnector as Connector,
];
