import { defineConnector, type ConnectorContext } from '../connector.js';
import { callSource, displayUrl, malformed, readPath } from './poller-support.js';
import { buildRequest, finishPass, initialCheckpoint, nextPage, readRestCheckpoint, selectItems, type PageRequest, type RestCheckpoint } from './rest-poller.paging.js';
import { RestPollerSettings } from './rest-poller.settings.js';

type Ctx = ConnectorContext<RestPollerSettings>;

const system = (ctx: Ctx) => `the API at ${displayUrl(ctx.settings.url)}`;

async function fetchPage(ctx: Ctx, request: PageRequest): Promise<{ items: unknown[]; body: unknown; link: unknown }> {
  const response = await callSource(ctx, 'api', system(ctx), request);
  const body: unknown = response.data;
  // axios hands back the text when a body does not parse as JSON (an HTML error page, a cut-off answer).
  if (body === null || typeof body !== 'object') throw malformed(system(ctx), 'JSON', body);
  const path = ctx.settings.itemsPath;
  const items = readPath(body, path);
  if (!Array.isArray(items)) throw malformed(system(ctx), `a JSON array at ${path === '' ? 'the top of the answer' : `"${path}"`}`, items);
  return { items, body, link: (response.headers as Record<string, unknown>)['link'] };
}

/**
 * Any JSON API with no built-in connector, described entirely by configuration: where the list is,
 * how to authenticate, how it pages (page number, offset, next cursor, Link header) and which
 * field grows when an item changes. Its mapping comes from the configuration.
 */
export const restPollerConnector = defineConnector({
  type: 'rest-poller',
  version: 1,
  description: 'Generic REST poller: URL, auth, pagination, incremental cursor and mapping all from configuration',
  settingsSchema: RestPollerSettings,
  mappings: [],
  mappingRequired: true,
  async test(ctx) {
    const { items } = await fetchPage(ctx, buildRequest(ctx.settings, initialCheckpoint(ctx.settings)));
    return `${system(ctx)} accepted the credentials and answered with ${items.length} item${items.length === 1 ? '' : 's'} on the first page`;
  },
  poll: {
    everyMs: 5 * 60_000,
    readCheckpoint: readRestCheckpoint,
    async run(ctx, checkpoint) {
      const settings = ctx.settings;
      const state: RestCheckpoint = checkpoint ?? initialCheckpoint(settings);
      const request = buildRequest(settings, state);
      const { items, body, link } = await fetchPage(ctx, request);
      const selected = selectItems(settings.incremental, state, items);
      if ('problem' in selected) throw malformed(system(ctx), 'items with the configured cursor field', items, selected.problem);
      const page = nextPage(settings, request, state.pass, items, body, link);
      if ('problem' in page) throw malformed(system(ctx), 'a next page to follow', body, page.problem);
      if (page.next) return { payloads: selected.emit, checkpoint: { ...state, pass: { ...page.next, max: selected.max, maxIds: selected.maxIds } }, more: true };
      return { payloads: selected.emit, checkpoint: finishPass(settings.incremental, state, selected.max, selected.maxIds), more: false };
    },
  },
});
