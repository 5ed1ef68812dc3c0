import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { HubError } from '../errors.js';
import type { ProfileStore } from '../store/profile.store.js';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const Redirect = Type.Object({ mergedInto: Type.String() }, { description: 'the profile was merged into another; Location names it' });

/**
 * The live profile a path id stands for. A merged-away id answers 308 with the survivor's Location
 * (path `suffix` kept) and body {mergedInto}, and gives null: nothing is done through a redirect.
 */
export async function liveProfileId(store: Pick<ProfileStore, 'resolveProfileId'>, id: string, reply: FastifyReply, suffix: string): Promise<string | null> {
  const found = UUID.test(id) ? await store.resolveProfileId(id) : null;
  if (!found) throw new HubError('NOT_FOUND', `no profile ${id}`);
  if (!found.redirected) return found.id;
  await reply.code(308).header('location', `/v1/profiles/${found.id}${suffix}`).send({ mergedInto: found.id });
  return null;
}
