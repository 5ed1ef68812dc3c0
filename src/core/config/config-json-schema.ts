import { HubConfigSchema } from './config.schema.js';

type Node = { [key: string]: unknown };

// A property with a default may be left out of a config file: the editor's schema must not call it
// required, though the validated (defaults applied) config always has it.
function optionalDefaults(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(optionalDefaults);
  if (node === null || typeof node !== 'object') return node;
  const out: Node = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, optionalDefaults(v)]));
  const properties = out['properties'] as Record<string, Node> | undefined;
  if (Array.isArray(out['required']) && properties) {
    const required = (out['required'] as string[]).filter((name) => properties[name]?.['default'] === undefined);
    if (required.length > 0) out['required'] = required;
    else delete out['required'];
  }
  return out;
}

/** The config's JSON Schema document, as written to config/hub.schema.json. */
export function configJsonSchema(): string {
  const document = { $schema: 'http://json-schema.org/draft-07/schema#', title: 'crm-hub configuration', ...(optionalDefaults(HubConfigSchema) as Node) };
  return `${JSON.stringify(document, null, 2)}\n`;
}
