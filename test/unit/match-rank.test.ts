import { describe, expect, it } from 'vitest';
import { rankCandidates, type Filing } from '../../src/core/identity/match/rank.js';

const filing = (id: string, block: string, filed: number): Filing<string> => ({ id, block, filed, item: `record ${id}` });

describe('rankCandidates', () => {
  it('puts the records sharing the most keys first, each with the keys it shares', () => {
    const ranked = rankCandidates(
      [filing('petrov-1', 'ny:ptrf:1980', 3), filing('petrov-2', 'ny:ptrf:1980', 3), filing('petrov-2', 'np:ptrf:101000', 2), filing('petrov-2', 'dc:1980-05-01:moscow', 1)],
      6,
    );
    expect(ranked.map((c) => c.id)).toEqual(['petrov-2', 'petrov-1']);
    expect(ranked[0]).toEqual({ id: 'petrov-2', item: 'record petrov-2', keys: ['ny:ptrf:1980', 'np:ptrf:101000', 'dc:1980-05-01:moscow'] });
  });

  it('breaks a tie in shared keys by the rarer key, then by id', () => {
    // Иванов under a key with 15 namesakes, Сидоров under one with 2: the rare key tells more.
    const ranked = rankCandidates([filing('ivanov', 'nc:ivnf:kazan', 15), filing('sidorov', 'nc:strf:kazan', 2), filing('b', 'x', 5), filing('a', 'y', 5)], 6);
    expect(ranked.map((c) => c.id)).toEqual(['sidorov', 'a', 'b', 'ivanov']);
  });

  it('keeps at most the limit', () => {
    const filings = Array.from({ length: 30 }, (_, i) => filing(`r${String(i).padStart(2, '0')}`, `k${i}`, 1 + i));
    const ranked = rankCandidates(filings, 6);
    expect(ranked.map((c) => c.id)).toEqual(['r00', 'r01', 'r02', 'r03', 'r04', 'r05']);
  });
});
