// The labelled entity-resolution datasets (see ../shared/data/README.md), read
// with a real CSV parser and mapped to hub Records. The truth (FEBRL rec_id, splink cluster,
// personaldata entity_id) stays here, beside the record: the hub never sees it, nor any id that
// encodes it — sourceId is the row number in the file.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { HubRecord } from '../../src/core/record.schema.js';

/** A record as the hub receives it, and the id of the person it really belongs to. */
export type LabelledRecord = { record: HubRecord; truth: string };

export type Dataset = {
  name: DatasetName;
  /** Files in the order they are ingested; each file is its own source. */
  files: { source: string; records: LabelledRecord[] }[];
};

export const DATASET_NAMES = ['febrl3', 'febrl4', 'fake1000', 'personaldata'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

type Row = Record<string, string>;

function readCsv(path: string, delimiter: string): Row[] {
  // FEBRL separates values with ", ": trim every value.
  return parse(readFileSync(path, 'utf8'), { columns: true, delimiter, trim: true, skip_empty_lines: true, bom: true }) as Row[];
}

/** Keeps the non-empty values only: an empty cell is a value the source did not have. */
function present(values: Record<string, string | undefined>): Record<string, string> | undefined {
  const kept = Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '');
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

function contact(source: string, row: number, parts: { traits?: Record<string, string | undefined>; emails?: string; phones?: string }): HubRecord {
  const traits = present(parts.traits ?? {});
  const identifiers = {
    ...(parts.emails ? { emails: [parts.emails] } : {}),
    ...(parts.phones ? { phones: [parts.phones] } : {}),
  };
  return {
    source,
    sourceId: String(row),
    kind: 'contact',
    ...(Object.keys(identifiers).length > 0 ? { identifiers } : {}),
    ...(traits ? { traits } : {}),
  };
}

function joined(...parts: (string | undefined)[]): string {
  return parts.filter((p) => p !== undefined && p !== '').join(' ');
}

/** `rec-1496-org`, `rec-552-dup-3`: the number is the person. */
function febrlPerson(recId: string | undefined): string {
  const match = /^rec-(\d+)-(?:org|dup-\d+)$/.exec(recId ?? '');
  if (!match) throw new Error(`unexpected FEBRL rec_id "${recId}"`);
  return match[1] as string;
}

function febrl(path: string, source: string): { source: string; records: LabelledRecord[] } {
  const records = readCsv(path, ',').map((r, i) => ({
    truth: febrlPerson(r['rec_id']),
    record: contact(source, i + 1, {
      traits: {
        firstName: r['given_name'],
        lastName: r['surname'],
        address: joined(r['street_number'], r['address_1']),
        address2: r['address_2'],
        city: r['suburb'],
        postcode: r['postcode'],
        state: r['state'],
        birthDate: r['date_of_birth'],
        nationalId: r['soc_sec_id'],
      },
    }),
  }));
  return { source, records };
}

function fake1000(path: string): { source: string; records: LabelledRecord[] } {
  const source = 'fake1000';
  const records = readCsv(path, ',').map((r, i) => {
    if (!r['cluster']) throw new Error(`fake_1000 row ${i + 1} has no cluster`);
    return {
      truth: r['cluster'],
      record: contact(source, i + 1, {
        traits: { firstName: r['first_name'], lastName: r['surname'], birthDate: r['dob'], city: r['city'] },
        emails: r['email'],
      }),
    };
  });
  return { source, records };
}

function personaldata(path: string, source: string): { source: string; records: LabelledRecord[] } {
  const records = readCsv(path, ';').map((r, i) => ({
    // A row without entity_id is nobody else: its own cluster, never grouped with the other blanks.
    truth: r['entity_id'] ? r['entity_id'] : `${source}:${i + 1}`,
    record: contact(source, i + 1, {
      traits: {
        firstName: r['first_name'],
        lastName: r['last_name'],
        birthDate: r['birthdate'],
        city: r['city'],
        jobTitle: r['job'],
        postcode: r['postcode'],
        sex: r['sex'],
        address: r['street_address'],
      },
      emails: r['email'],
      phones: r['phone_number'],
    }),
  }));
  return { source, records };
}

export function loadDataset(name: DatasetName, dataDir: string): Dataset {
  if (!existsSync(dataDir)) throw new Error(`no datasets in ${dataDir}: pass --data DIR or set MATCH_DATA_DIR (the folder with febrl/, splink/, personaldata/)`);
  switch (name) {
    case 'febrl3':
      return { name, files: [febrl(join(dataDir, 'febrl', 'dataset3.csv'), 'febrl3')] };
    case 'febrl4':
      return { name, files: [febrl(join(dataDir, 'febrl', 'dataset4a.csv'), 'febrl4a'), febrl(join(dataDir, 'febrl', 'dataset4b.csv'), 'febrl4b')] };
    case 'fake1000':
      return { name, files: [fake1000(join(dataDir, 'splink', 'fake_1000.csv'))] };
    case 'personaldata':
      return {
        name,
        files: [
          personaldata(join(dataDir, 'personaldata', 'personaldata1000A.csv'), 'personaldata-a'),
          personaldata(join(dataDir, 'personaldata', 'personaldata1000B.csv'), 'personaldata-b'),
        ],
      };
  }
}
