import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config/load-config.js';
import type { HubRecord } from '../../src/core/record.schema.js';
import { recordKey, startBenchHub } from '../../bench/match/hub.js';
import { createTestDb } from '../support/hub.js';
import { scorePairs } from '../../bench/match/score.js';
import { STORES } from '../support/env.js';

// The accuracy benchmark's harness on a tiny labelled set: records go in through the API, the
// clustering comes back from the store, including a merge that happened after the first records.
describe.each(STORES)('bench:match harness (%s)', (store) => {
  it('reads back the live profile of every record and scores it', async () => {
    const fresh = await createTestDb(store);
    const bench = await startBenchHub('harness-test', { config: parseConfig({}), fresh, logLevel: 'silent' });
    try {
      const contact = (sourceId: string, emails: string[], phones: string[] = [], firstName = 'Анна'): HubRecord => ({
        source: 'labelled',
        sourceId,
        kind: 'contact',
        identifiers: { emails, phones },
        traits: { firstName },
      });
      // 1 and 2 are one person through a phone; 3 links 2 to 4 (a merge of two profiles); 5 is alone.
      await bench.post([contact('1', ['anna@example.com'], ['+79161234567']), contact('2', [], ['8 916 123-45-67']), contact('4', ['a.k@example.com'])]);
      await bench.post([contact('3', ['A.K@example.com'], ['+7 916 123 45 67']), contact('5', ['other@example.com'], [], 'Борис')]);
      expect(await bench.stored(5)).toEqual({ failedJobs: 0 });
      const profiles = await bench.profiles();
      expect(profiles.size).toBe(5);
      const truth: Record<string, string> = { '1': 'anna', '2': 'anna', '3': 'anna', '4': 'anna', '5': 'other' };
      const score = scorePairs(Object.entries(truth).map(([sourceId, person]) => ({ predicted: profiles.get(recordKey('labelled', sourceId))!, truth: person })));
      expect(score).toMatchObject({ clusters: 2, predictedPairs: 6, truePairs: 6, precision: 1, recall: 1, f1: 1 });
      const identifiers = await bench.identifiers();
      expect(identifiers.get(recordKey('labelled', '2'))).toContain('phone:+79161234567');
      expect(identifiers.get(recordKey('labelled', '2'))).not.toContain('externalId:labelled:2');
      // Nothing here is doubtful: no open review pair, or no review endpoint at all (404 → null).
      expect([0, null]).toContain(await bench.reviewPairs());
    } finally {
      await bench.close();
    }
  });
});
