import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/data.js';
import { extendProjection, projectTraits, searchText, type TraitObservation } from '../../src/core/identity/survivorship.js';

function seen(source: string, sourceId: string, occurredAt: string, traits: Record<string, unknown>, receivedAt = occurredAt): TraitObservation {
  return { source, sourceId, traits, occurredAt, receivedAt };
}

describe('projectTraits', () => {
  it('takes the most recent non-empty value of each trait, whatever the order given', () => {
    const observations = [
      seen('erp', 'C-1', '2026-03-01T00:00:00.000Z', { city: 'Москва', firstName: 'Ivan' }),
      seen('web', 'f-1', '2026-01-01T00:00:00.000Z', { city: 'Тверь', company: 'Ромашка' }),
      seen('crm', 'B-1', '2026-02-01T00:00:00.000Z', { firstName: 'Иван' }),
    ];
    for (const order of [observations, [...observations].reverse()]) {
      expect(projectTraits(order, {}).traits).toEqual({ city: 'Москва', company: 'Ромашка', firstName: 'Ivan' });
    }
  });

  it('ignores empty strings, whitespace, null, undefined and empty arrays', () => {
    const { traits, traitSources } = projectTraits(
      [
        seen('erp', 'C-1', '2026-01-01T00:00:00.000Z', { city: 'Москва', company: 'Ромашка', tags: ['vip'], phoneNote: 'call after 6', fax: 'x' }),
        seen('web', 'f-1', '2026-06-01T00:00:00.000Z', { city: '', company: '   ', tags: [], phoneNote: null, fax: undefined }),
      ],
      {},
    );
    expect(traits).toEqual({ city: 'Москва', company: 'Ромашка', fax: 'x', phoneNote: 'call after 6', tags: ['vip'] });
    expect(Object.values(traitSources).every((s) => s.source === 'erp')).toBe(true);
  });

  it('keeps falsy values that are not empty: 0 and false', () => {
    const { traits } = projectTraits(
      [seen('erp', 'C-1', '2026-01-01T00:00:00.000Z', { children: 2, subscribed: true }), seen('web', 'f-1', '2026-06-01T00:00:00.000Z', { children: 0, subscribed: false })],
      {},
    );
    expect(traits).toEqual({ children: 0, subscribed: false });
  });

  it('lets a source in the priority list beat a more recent value, and ranks unlisted sources after listed ones', () => {
    const observations = [
      seen('erp', 'C-1', '2026-01-01T00:00:00.000Z', { company: 'ERP Co', city: 'Тверь' }),
      seen('1c', 'K-1', '2026-02-01T00:00:00.000Z', { company: '1C Co' }),
      seen('web', 'f-1', '2026-06-01T00:00:00.000Z', { company: 'Web Co', city: 'Москва' }),
    ];
    const priority = { company: ['erp', '1c'] };
    const { traits, traitSources } = projectTraits(observations, priority);
    expect(traits['company']).toBe('ERP Co');
    expect(traitSources['company']?.source).toBe('erp');
    // A trait without a priority list still goes to the most recent value.
    expect(traits['city']).toBe('Москва');

    const withoutErp = projectTraits(observations.slice(1), priority);
    expect(withoutErp.traits['company']).toBe('1C Co');
  });

  it('falls back to a lower-priority source when the preferred one has no value', () => {
    const { traits } = projectTraits(
      [seen('erp', 'C-1', '2026-06-01T00:00:00.000Z', { company: '' }), seen('web', 'f-1', '2026-01-01T00:00:00.000Z', { company: 'Web Co' })],
      { company: ['erp'] },
    );
    expect(traits['company']).toBe('Web Co');
  });

  it('prefers the most recent of two records from the same priority source', () => {
    const { traitSources } = projectTraits(
      [seen('erp', 'C-1', '2026-01-01T00:00:00.000Z', { company: 'Old' }), seen('erp', 'C-2', '2026-02-01T00:00:00.000Z', { company: 'New' })],
      { company: ['erp'] },
    );
    expect(traitSources['company']?.sourceId).toBe('C-2');
  });

  it('breaks a tie in occurredAt by receivedAt', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const observations = [seen('erp', 'C-1', at, { city: 'Тверь' }, '2026-01-02T00:00:00.000Z'), seen('web', 'f-1', at, { city: 'Москва' }, '2026-01-03T00:00:00.000Z')];
    expect(projectTraits(observations, {}).traits['city']).toBe('Москва');
    expect(projectTraits([...observations].reverse(), {}).traits['city']).toBe('Москва');
  });

  it('compares instants, not how the time is written', () => {
    // 13:00+03:00 is 10:00Z, earlier than 11:00Z; 10:00:00Z is earlier than 10:00:00.500Z.
    const offset = projectTraits([seen('erp', 'C-1', '2026-01-01T13:00:00+03:00', { city: 'Тверь' }), seen('web', 'f-1', '2026-01-01T11:00:00Z', { city: 'Москва' })], {});
    expect(offset.traits['city']).toBe('Москва');
    const fraction = projectTraits([seen('erp', 'C-1', '2026-01-01T10:00:00.500Z', { city: 'Тверь' }), seen('web', 'f-1', '2026-01-01T10:00:00Z', { city: 'Москва' })], {});
    expect(fraction.traits['city']).toBe('Тверь');
  });

  it('names the winning record and when it was observed in traitSources', () => {
    const { traitSources } = projectTraits(
      [seen('erp', 'C-1', '2026-01-01T00:00:00.000Z', { firstName: 'Ivan' }), seen('crm', 'B-7', '2026-02-01T00:00:00.000Z', { firstName: 'Иван', lastName: 'Петров' })],
      {},
    );
    expect(traitSources).toEqual({
      firstName: { source: 'crm', sourceId: 'B-7', observedAt: '2026-02-01T00:00:00.000Z' },
      lastName: { source: 'crm', sourceId: 'B-7', observedAt: '2026-02-01T00:00:00.000Z' },
    });
  });

  it('answers empty traits for no observations', () => {
    expect(projectTraits([], { company: ['erp'] })).toEqual({ traits: {}, traitSources: {} });
  });
});

describe('extendProjection', () => {
  const priority = { company: ['erp', '1c'], city: ['web'] };
  const sources = ['erp', '1c', 'web', 'crm'];
  const values = ['', 'Ромашка', 'Lilia', null, 'Тверь'];

  /** A pseudo-random stream (the same every run) of observations over few days, sources and values: ties happen. */
  function observations(seed: number, count: number): TraitObservation[] {
    const random = prng(seed);
    const next = (n: number) => Math.floor(random() * n);
    return Array.from({ length: count }, (_, i) => {
      const day = `2026-01-${String(1 + next(20)).padStart(2, '0')}T00:00:00.000Z`;
      const traits = Object.fromEntries(['company', 'city', 'firstName'].filter(() => next(3) > 0).map((name) => [name, values[next(values.length)]]));
      return seen(sources[next(sources.length)] ?? 'web', `R-${seed}-${i}`, day, traits, `2026-02-0${1 + next(9)}T00:00:00.000Z`);
    });
  }

  it('equals the projection of all the records whenever it answers, and answers for most', () => {
    let answered = 0;
    for (let seed = 1; seed <= 1000; seed += 1) {
      // Parts: a profile's records, those of a profile merged into it (every other seed), new records.
      const all = observations(seed, 3 + (seed % 6));
      const first = 1 + (seed % 2);
      const second = seed % 2 === 0 ? first + 1 + (seed % 3) : first;
      const parts = [projectTraits(all.slice(0, first), priority), ...(second > first ? [projectTraits(all.slice(first, second), priority)] : [])];
      const extended = extendProjection(parts, all.slice(second), priority);
      if (extended === null) continue;
      answered += 1;
      expect(extended).toEqual(projectTraits(all, priority));
    }
    expect(answered).toBeGreaterThan(700);
  });

  it('answers null for a tie the receipt times would break, and extends an empty projection like projectTraits', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const current = projectTraits([seen('erp', 'C-1', at, { city: 'Тверь' }, '2026-01-02T00:00:00.000Z')], {});
    expect(extendProjection([current], [seen('web', 'f-1', at, { city: 'Москва' }, '2026-01-03T00:00:00.000Z')], {})).toBeNull();
    expect(extendProjection([current], [seen('web', 'f-1', '2026-01-05T00:00:00.000Z', { city: 'Москва' })], {})?.traits).toEqual({ city: 'Москва' });
    const added = [seen('erp', 'C-1', at, { company: 'ERP Co' }), seen('web', 'f-1', '2026-06-01T00:00:00.000Z', { company: 'Web Co', city: 'Москва' })];
    expect(extendProjection([], added, priority)).toEqual(projectTraits(added, priority));
  });
});

describe('searchText', () => {
  it('joins names and company, lowercased, skipping blanks and other traits', () => {
    expect(searchText({ firstName: 'Иван', lastName: 'ПЕТРОВ', middleName: ' ', company: 'ООО «Ромашка»', city: 'Москва', fullName: 42 })).toBe('иван петров ооо «ромашка»');
  });

  it('normalizes compatibility characters so a search matches', () => {
    expect(searchText({ company: 'ＡＣＭＥ' })).toBe('acme');
  });

  it('is empty without names', () => {
    expect(searchText({ city: 'Москва' })).toBe('');
  });
});
