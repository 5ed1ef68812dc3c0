import { describe, expect, it } from 'vitest';
import { blockingKeys } from '../../src/core/identity/match/blocking.js';
import { matchFeatures } from '../../src/core/identity/match/features.js';
import { DEFAULT_RULES } from '../../src/core/identity/match/defaults.js';
import type { Identifier } from '../../src/core/identity/normalize.js';

function keys(traits: Record<string, unknown>, ids: Identifier[] = []): string[] {
  return blockingKeys(matchFeatures(traits, ids, DEFAULT_RULES.fields));
}

function shared(a: string[], b: string[]): string[] {
  return a.filter((k) => b.includes(k)).sort();
}

describe('blockingKeys', () => {
  it('files one person written in Cyrillic and in Latin under the same keys', () => {
    const cyr = keys({ firstName: 'Пётр', lastName: 'Щукин', birthDate: '03.02.1980', postcode: '119019' });
    const lat = keys({ firstName: 'Pyotr', lastName: 'Shchukin', birthDate: '1980-02-03', postcode: '119019' });
    expect(cyr.sort()).toEqual(lat.sort());
    expect(cyr).toEqual(
      expect.arrayContaining(['ny:XXKN:1980', 'ny:PTR:1980', 'np:XXKN:119019', 'nn:PTR:XXKN', 'dp:1980-02-03:119019', 'dg:1980-02-03:P']),
    );
  });

  it('Иванов and Ivanoff share a name key', () => {
    expect(shared(keys({ lastName: 'Иванов', birthDate: '1980-02-03' }), keys({ lastName: 'Ivanoff', birthDate: '1980-11-30' }))).toEqual(['ny:AFNF:1980']);
  });

  it('records with a mistyped postcode still share keys (name and year, both names, the street)', () => {
    const a = keys({ firstName: 'John', lastName: 'Smith', birthDate: '1975-06-01', postcode: '10001', address: '12 Main Street' });
    const b = keys({ firstName: 'John', lastName: 'Smith', birthDate: '1975-06-01', postcode: '10010', address: '12 Main St' });
    expect(a).toContain('np:SM0:10001');
    expect(b).toContain('np:SM0:10010');
    expect(shared(a, b)).toEqual(['a:12 main', 'dg:1975-06-01:J', 'nn:JN:SM0', 'ny:JN:1975', 'ny:SM0:1975']);
  });

  it('records with a mistyped birth date still share the name pair', () => {
    expect(shared(keys({ firstName: 'Юлия', lastName: 'Смирнова', birthDate: '1990-05-14' }), keys({ firstName: 'Yuliya', lastName: 'Smirnova', birthDate: '1909-05-14' }))).toEqual([
      'nn:AL:SMRN',
    ]);
  });

  it('swapped first and last names give the same name pair key', () => {
    expect(shared(keys({ firstName: 'Ivan', lastName: 'Petrov' }), keys({ firstName: 'Petrov', lastName: 'Ivan' }))).toEqual(['nn:AFN:PTRF']);
  });

  it('keys a national id, a city and an email local part', () => {
    const k = keys({ lastName: 'Petrov', city: 'Москва', nationalId: '123 456 789 01', birthDate: '1980-02-03' }, [{ type: 'email', value: 'petrov@mail.ru' }]);
    expect(k.sort()).toEqual(['dc:1980-02-03:moskva', 'el:petrov', 'id:12345678901', 'nc:PTRF:moskva', 'ny:PTRF:1980']);
  });

  it('gives a record with nothing no keys, and a lone name no keys', () => {
    expect(keys({})).toEqual([]);
    expect(keys({ notes: 'called back' }, [{ type: 'phone', value: '+79161234567' }])).toEqual([]);
    // One name and nothing else would file it with every namesake.
    expect(keys({ lastName: 'Smith' })).toEqual([]);
  });

  it('different people with nothing in common share no key', () => {
    expect(shared(keys({ firstName: 'Ivan', lastName: 'Petrov', birthDate: '1980-02-03', postcode: '119019' }), keys({ firstName: 'Olga', lastName: 'Sidorova', birthDate: '1992-10-10', postcode: '190000' }))).toEqual([]);
  });
});
