import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { RecordBatchSchema, RecordSchema, type HubRecord } from './record.schema.js';
import { HubError } from './errors.js';
import { fieldErrors } from './api/problem.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validateOne = ajv.compile<HubRecord>(RecordSchema);
const validateBatch = ajv.compile<{ records: HubRecord[] }>(RecordBatchSchema);

/**
 * Validates one record or a batch as a whole; a batch with any bad record fails with every
 * bad index and JSON path listed, so the client can fix them all at once.
 */
export function validateRecordsBody(body: unknown): { value: HubRecord[] } | { error: HubError } {
  const isBatch = typeof body === 'object' && body !== null && !Array.isArray(body) && 'records' in body;
  const ok = isBatch ? validateBatch(body) : validateOne(body);
  if (ok) return { value: isBatch ? (body as { records: HubRecord[] }).records : [body as HubRecord] };
  const errors = fieldErrors((isBatch ? validateBatch.errors : validateOne.errors) ?? []);
  const badIndexes = [...new Set(errors.map((e) => /^\/records\/(\d+)/.exec(e.path)?.[1]).filter((i): i is string => i !== undefined))];
  const what = !isBatch ? 'the record is invalid' : badIndexes.length > 0 ? `records ${badIndexes.join(', ')} are invalid` : 'the batch is invalid';
  return { error: new HubError('VALIDATION', `${what}; nothing was accepted: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, { errors }) };
}

