import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { loadConfigFile, parseConfig } from '../../src/core/config/load-config.js';
import { configJsonSchema } from '../../src/core/config/config-json-schema.js';
import { HubError } from '../../src/core/errors.js';
import { DEFAULT_BLOCKLIST, DEFAULT_MATCHING } from '../../src/core/identity/match/defaults.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const HASH = 'a'.repeat(64);

/** The HubError a call throws; fails the test if it throws anything else or nothing. */
function configError(fn: () => unknown): HubError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).code).toBe('HUB_ERR_CONFIG_INVALID');
    return err as HubError;
  }
  throw new Error('expected a config error, got none');
}

describe('loading config files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'crm-hub-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the example config with every setting', () => {
    const config = loadConfigFile('config/hub.example.yaml');
    expect(config.identity.defaultCountry).toBe('RU');
    expect(config.identity.traitPriority['company']).toEqual(['erp']);
    expect(config.auth.keys[0]).toMatchObject({ name: 'website-backend', scopes: ['ingest'] });
    expect(config.forms[0]).toMatchObject({ id: 'contact', source: 'website', honeypot: 'website_url' });
  });

  it('loads the default config npm start reads', () => {
    const config = loadConfigFile('config/hub.yaml');
    expect(config.forms.map((f) => f.id)).toEqual(['contact']);
    expect(config.pipeline.concurrency).toBe(2);
  });

  it('loads JSON and an empty file', () => {
    const json = join(dir, 'hub.json');
    writeFileSync(json, JSON.stringify({ pipeline: { concurrency: 4 } }));
    expect(loadConfigFile(json).pipeline.concurrency).toBe(4);
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '# nothing set\n');
    expect(loadConfigFile(empty)).toEqual(parseConfig({}));
  });

  it('names the file when it is missing or not parseable', () => {
    expect(configError(() => loadConfigFile(join(dir, 'missing.yaml'))).message).toContain('missing.yaml');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'identity: [unclosed\n');
    expect(configError(() => loadConfigFile(broken)).message).toMatch(/broken\.yaml.*YAML/);
  });
});

describe('parseConfig', () => {
  it('fills every default into an empty document and freezes the result', () => {
    const config = parseConfig({});
    expect(config).toEqual({
      identity: {
        defaultCountry: 'RU',
        traitPriority: {},
        emailCanonicalization: [],
        blocklist: DEFAULT_BLOCKLIST,
        maxProfilesPerIdentifier: 3,
        matching: { enabled: true, ...DEFAULT_MATCHING },
      },
      auth: { keys: [] },
      pipeline: { concurrency: 2, transactionSize: 1000, attempts: 10, backoffMs: 1000, keepCompleted: 1000 },
      forms: [],
      connectors: [],
      erasure: { onReturn: 'hold' },
      rateLimit: { publicMax: 60, webhookMax: 1200, windowMs: 60000 },
      reports: { foldEveryMs: 10000, foldSettleMs: 10000 },
      metrics: { requireKey: false },
      events: { relayEveryMs: 500, relayBatch: 500, sweepEveryMs: 15000, concurrency: 8, attempts: 12, backoffMs: 30000, timeoutMs: 10000, disableAfterMs: 259200000, alertCheckEveryMs: 60000, keepDeliveriesDays: 30, allowPrivateUrls: false },
      alerts: [],
    });
    expect(Object.isFrozen(config.pipeline)).toBe(true);
    expect(parseConfig(null)).toEqual(config);
  });

  it('fills defaults inside a form and leaves the given document untouched', () => {
    const document = { forms: [{ id: 'f1' }] };
    expect(parseConfig(document).forms[0]).toEqual({ id: 'f1', fields: {}, corsOrigins: [] });
    expect(document).toEqual({ forms: [{ id: 'f1' }] });
  });

  it('names the JSON path of an out-of-range value', () => {
    const err = configError(() => parseConfig({ pipeline: { concurrency: 0 } }));
    expect(err.message).toContain('/pipeline/concurrency');
    expect(err.errors).toEqual([{ path: '/pipeline/concurrency', message: expect.stringContaining('>= 1') }]);
    expect(configError(() => parseConfig({ pipeline: { concurrency: 'many' } })).message).toContain('/pipeline/concurrency');
  });

  it('names an unknown property and where it is', () => {
    const nested = configError(() => parseConfig({ pipeline: { concurency: 4 } }));
    expect(nested.errors).toEqual([{ path: '/pipeline', message: 'unknown property "concurency"' }]);
    expect(nested.message).toContain('/pipeline');
    expect(configError(() => parseConfig({ identiy: {} })).message).toContain('unknown property "identiy"');
  });

  it('rejects a default country that is not an ISO code', () => {
    for (const defaultCountry of ['ru', 'Russia', '7']) {
      expect(configError(() => parseConfig({ identity: { defaultCountry } })).message).toContain('/identity/defaultCountry');
    }
  });

  it('lists every error at once', () => {
    const err = configError(() => parseConfig({ pipeline: { concurrency: 0, attempts: 0 }, rateLimit: { windowMs: 1 } }));
    expect(err.errors?.map((e) => e.path).sort()).toEqual(['/pipeline/attempts', '/pipeline/concurrency', '/rateLimit/windowMs']);
  });

  it('rejects an API key given in clear instead of its SHA-256', () => {
    const err = configError(() => parseConfig({ auth: { keys: [{ name: 'site', sha256: 'my-secret-key', scopes: ['ingest'] }] } }));
    expect(err.message).toContain('/auth/keys/0/sha256');
  });

  it('substitutes ${NAME} from the environment in any string', () => {
    const config = parseConfig(
      { auth: { keys: [{ name: 'site-${SITE}', sha256: '${SITE_KEY_HASH}', scopes: ['ingest'] }] }, forms: [{ id: 'f1', redirect: 'https://${HOST}/thanks' }] },
      { SITE: 'main', SITE_KEY_HASH: HASH, HOST: 'example.com' },
    );
    expect(config.auth.keys[0]).toEqual({ name: 'site-main', sha256: HASH, scopes: ['ingest'] });
    expect(config.forms[0]?.redirect).toBe('https://example.com/thanks');
  });

  it('reports a missing environment variable with the path that uses it', () => {
    const err = configError(() => parseConfig({ auth: { keys: [{ name: 'site', sha256: '${NOT_SET_ANYWHERE}', scopes: ['ingest'] }] } }, {}));
    expect(err.message).toContain('/auth/keys/0/sha256');
    expect(err.message).toContain('NOT_SET_ANYWHERE');
  });

  it('rejects two forms with the same id', () => {
    const err = configError(() => parseConfig({ forms: [{ id: 'contact' }, { id: 'other' }, { id: 'contact' }] }));
    expect(err.message).toContain('/forms/2/id');
    expect(err.message).toContain('"contact"');
  });
});

describe('config/hub.schema.json', () => {
  const committed = readFileSync('config/hub.schema.json', 'utf8');

  it('is what scripts/write-config-schema.ts writes from the config schema (run it after changing the schema)', () => {
    expect(committed).toBe(configJsonSchema());
  });

  it('validates both shipped configs and rejects a bad one, like the hub does', () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(committed) as object);
    for (const file of ['config/hub.example.yaml', 'config/hub.yaml']) {
      const ok = validate(parseYaml(readFileSync(file, 'utf8')));
      expect(ok, `${file}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    expect(validate({ pipeline: { concurrency: 0 } })).toBe(false);
    expect(validate({ identity: { defaultCountry: 'ru' } })).toBe(false);
    expect(validate({ unknown: true })).toBe(false);
    // Settings with a default may be left out, so an editor does not flag a minimal file.
    expect(validate({})).toBe(true);
    expect(validate({ forms: [{ id: 'f1' }] })).toBe(true);
  });
});
