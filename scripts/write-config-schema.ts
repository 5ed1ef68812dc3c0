// Writes config/hub.schema.json from the TypeBox schema the hub validates its config with,
// so editors can check hub.yaml. A test fails when the file is out of date.
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../src/core/config/config-json-schema.js';

writeFileSync(new URL('../config/hub.schema.json', import.meta.url), configJsonSchema());
