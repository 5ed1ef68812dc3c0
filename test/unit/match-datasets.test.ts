import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset } from '../../bench/match/datasets.js';

// Small files in the datasets' own layouts: FEBRL's ", " separators, splink's plain CSV,
// personaldata's ";" with a blank entity_id.
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(os.tmpdir(), 'match-datasets-'));
  for (const sub of ['febrl', 'splink', 'personaldata']) mkdirSync(join(dir, sub));
  writeFileSync(
    join(dir, 'febrl', 'dataset3.csv'),
    [
      'rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id',
      'rec-552-dup-3, harley, mccarthy, 177, pridhamstreet, milton, marsden, 0165, nsw, 19080419, 6089216',
      'rec-552-org, , mccarthy, , pridham street, , marsden, 3165, nsw, , 6089216',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'splink', 'fake_1000.csv'), 'unique_id,first_name,surname,dob,city,email,cluster\n0,Robert,Alan,1971-06-24,,robert255@smith.net,0\n');
  writeFileSync(
    join(dir, 'personaldata', 'personaldata1000A.csv'),
    'record_id;birthdate;city;email;first_name;job;last_name;phone_number;postcode;sex;street_address;entity_id\n1000000;1975-05-18;Champlinville;h@gmail.com;Marchello;Teacher;Prosacco;1-002-603-2082x8411;06419-6160;M;4937 Jerimy Knolls;1\n',
  );
  writeFileSync(
    join(dir, 'personaldata', 'personaldata1000B.csv'),
    'record_id;birthdate;city;email;entity_id;first_name;job;last_name;phone_number;postcode;sex;street_address\n1000000;1970-05-17;New Alphons;b@hotmail.com;;Mindy;Engineer;;(216)197-1192;65643-0681;F;9705 Coletta Crossing\n1000001;1970-05-17;Alphons;c@hotmail.com;;Mindy;Engineer;;;65643;F;9705 Coletta Crossing\n',
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('labelled dataset loaders', () => {
  it('maps FEBRL rows to contacts with trimmed string traits, the row number as sourceId and the person as truth', () => {
    const { files } = loadDataset('febrl3', dir);
    expect(files.map((f) => f.source)).toEqual(['febrl3']);
    const [first, second] = files[0]!.records;
    expect(first).toEqual({
      truth: '552',
      record: {
        source: 'febrl3',
        sourceId: '1',
        kind: 'contact',
        traits: {
          firstName: 'harley',
          lastName: 'mccarthy',
          address: '177 pridhamstreet',
          address2: 'milton',
          city: 'marsden',
          postcode: '0165',
          state: 'nsw',
          birthDate: '19080419',
          nationalId: '6089216',
        },
      },
    });
    // Empty cells are left out, never sent as "".
    expect(second!.record.traits).toEqual({ lastName: 'mccarthy', address: 'pridham street', city: 'marsden', postcode: '3165', state: 'nsw', nationalId: '6089216' });
    expect(JSON.stringify(files[0]!.records.map((r) => r.record))).not.toContain('rec-');
  });

  it('maps fake_1000 and personaldata, keeping emails and phones as identifiers', () => {
    const fake = loadDataset('fake1000', dir).files[0]!.records[0]!;
    expect(fake).toEqual({
      truth: '0',
      record: { source: 'fake1000', sourceId: '1', kind: 'contact', identifiers: { emails: ['robert255@smith.net'] }, traits: { firstName: 'Robert', lastName: 'Alan', birthDate: '1971-06-24' } },
    });
    const { files } = loadDataset('personaldata', dir);
    expect(files.map((f) => f.source)).toEqual(['personaldata-a', 'personaldata-b']);
    expect(files[0]!.records[0]!.record).toMatchObject({
      identifiers: { emails: ['h@gmail.com'], phones: ['1-002-603-2082x8411'] },
      traits: { firstName: 'Marchello', lastName: 'Prosacco', jobTitle: 'Teacher', sex: 'M', address: '4937 Jerimy Knolls', postcode: '06419-6160' },
    });
  });

  it('gives each personaldata row without entity_id a truth of its own', () => {
    const [a, b] = loadDataset('personaldata', dir).files;
    expect(a!.records[0]!.truth).toBe('1');
    const blanks = b!.records.map((r) => r.truth);
    expect(new Set(blanks).size).toBe(2);
    expect(blanks).not.toContain('');
    expect(b!.records[1]!.record.identifiers).toEqual({ emails: ['c@hotmail.com'] });
  });
});
