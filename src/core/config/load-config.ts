import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { HubError } from '../errors.js';
import { HubConfigSchema, type HubConfig } from './config.schema.js';

// ajv-formats ships CommonJS; under NodeNext its default export is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
addFormats(ajv);
const validateConfig = ajv.compile<HubConfig>(HubConfigSchema);

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces `${NAME}` in every string value; a missing variable is a config error naming the path. */
function substituteEnv(value: unknown, path: string, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_, name: string) => {
      const found = env[name];
      if (found === undefined) {
        throw new HubError('CONFIG_INVALID', `config ${path || '/'}: environment variable ${name} is not set`);
      }
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, `${path}/${i}`, env));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteEnv(v, `${path}/${k}`, env)]));
  }
  return value;
}

function describe(errors: ErrorObject[]): { path: string; message: string }[] {
  return errors.map((e) => {
    const path = e.instancePath || '/';
    if (e.keyword === 'additionalProperties') {
      return { path, message: `unknown property "${String(e.params['additionalProperty'])}"` };
    }
    return { path, message: e.message ?? 'is invalid' };
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Validates a parsed config document (defaults applied) and returns it frozen. */
export function parseConfig(document: unknown, env: NodeJS.ProcessEnv = process.env): HubConfig {
  const withEnv = substituteEnv(document ?? {}, '', env);
  if (!validateConfig(withEnv)) {
    const errors = describe(validateConfig.errors ?? []);
    const detail = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new HubError('CONFIG_INVALID', `invalid config: ${detail}`, { errors });
  }
  const connectors = new Set<string>();
  for (const [i, connector] of withEnv.connectors.entries()) {
    if (connectors.has(connector.id)) throw new HubError('CONFIG_INVALID', `invalid config: /connectors/${i}/id: duplicate connector id "${connector.id}"`);
    connectors.add(connector.id);
  }
  const forms = new Set<string>();
  for (const [i, form] of withEnv.forms.entries()) {
    if (forms.has(form.id)) throw new HubError('CONFIG_INVALID', `invalid config: /forms/${i}/id: duplicate form id "${form.id}"`);
    forms.add(form.id);
  }
  return deepFreeze(withEnv);
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): HubConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new HubError('CONFIG_INVALID', `cannot read config file ${file} (HUB_CONFIG): ${(cause as Error).message}`, { cause });
  }
  let document: unknown;
  try {
    document = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (cause) {
    // The YAML parser appends a multi-line excerpt; its first line already names the line and column.
    const reason = (cause as Error).message.split('\n', 1)[0]?.replace(/:$/, '');
    throw new HubError('CONFIG_INVALID', `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${reason}`, { cause });
  }
  return parseConfig(document, env);
}
