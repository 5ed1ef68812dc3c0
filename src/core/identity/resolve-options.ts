import type { HubConfig } from '../config/config.schema.js';
import type { ResolveOptions } from '../store/profile.store.js';
import { canonicalEmail } from './email-canonical.js';
import { normalizeEmail, normalizePhone } from './normalize.js';
import { identifierKey } from './match/cluster.js';
import { DEFAULT_RULES } from './match/defaults.js';

/** The identity section of the config as the resolver uses it: defaults filled, blocklist normalized. */
export function resolveOptions(identity: HubConfig['identity']): ResolveOptions {
  const { defaultCountry, emailCanonicalization: emailRules, matching } = identity;
  const blocked = new Set<string>();
  for (const raw of identity.blocklist.emails) {
    const email = normalizeEmail(raw);
    if (email) blocked.add(identifierKey({ type: 'email', value: canonicalEmail(email, emailRules) }));
  }
  for (const raw of identity.blocklist.phones) {
    const phone = normalizePhone(raw, defaultCountry);
    if (phone) blocked.add(identifierKey({ type: 'phone', value: phone }));
  }
  return {
    normalize: { defaultCountry, emailRules },
    traitPriority: identity.traitPriority,
    blocked,
    matching: {
      enabled: matching.enabled,
      autoMerge: matching.autoMerge,
      review: matching.review,
      minAgreements: matching.minAgreements,
      conflict: matching.conflict,
      reviewPairsPerRecord: matching.reviewPairsPerRecord,
      maxProfilesPerIdentifier: identity.maxProfilesPerIdentifier,
      candidatesPerKey: matching.candidatesPerKey,
      candidatesPerRecord: matching.candidatesPerRecord,
      crowding: matching.crowding,
      rules: {
        given: matching.given ?? DEFAULT_RULES.given,
        family: matching.family ?? DEFAULT_RULES.family,
        emails: matching.emails ?? DEFAULT_RULES.emails,
        phones: matching.phones ?? DEFAULT_RULES.phones,
        fields: matching.fields ?? DEFAULT_RULES.fields,
      },
    },
  };
}
