import { HubError } from '../../core/errors.js';
import { defineConnector, type ConnectorContext, type PollFailure, type PollOutcome, type PollRun } from '../connector.js';
import { readImapCheckpoint, type ImapCheckpoint } from './imap.checkpoint.js';
import { imapError, worthReconnecting } from './imap.errors.js';
import { imapMapping } from './imap.mapping.js';
import { companyPhoneSet, parties, readMessage, type EmailPayload, type MessageContext } from './imap.message.js';
import { connectImap, disconnect, resolveMailboxes, serverName, syncMailbox, waitForNews, type Session } from './imap.session.js';
import { ImapSettings } from './imap.settings.js';

type Ctx = ConnectorContext<ImapSettings>;

// A run hands its connection to the next page of the same poll job; if no page comes (the runtime
// stopped at its page limit, or failed to queue), the connection is closed after this long.
const LINGER_MS = 5_000;
// One wait in IDLE lasts at most this long; the run then returns (more: true) so the runtime renews
// the poll lock (10 minutes) and calls again.
const MAX_WAIT_MS = 4 * 60_000;
const MAX_RECONNECTS = 5;

const sessions = new WeakMap<object, Session>();

/** "alice@example.com" for a login that is an address, else "user@host": the mailbox owner in keys and messages. */
function accountOf(settings: ImapSettings): string {
  return (settings.user.includes('@') ? settings.user : `${settings.user}@${settings.host}`).toLowerCase();
}

function companyOf(settings: ImapSettings) {
  if (settings.companyAddresses.length === 0 && settings.companyDomains.length === 0 && !settings.user.includes('@')) {
    // Without them every letter would look inbound and each employee would become a customer.
    throw new HubError('CONFIG_INVALID', 'imap: set settings.companyDomains or settings.companyAddresses (the login is not an address, so nothing says which side is the company)');
  }
  return parties(settings);
}

function endSession(ctx: Ctx, session: Session): void {
  if (session.linger) clearTimeout(session.linger);
  if (sessions.get(ctx) === session) sessions.delete(ctx);
  void disconnect(session.client);
}

/** The connection of this poll job: the one the previous page left, or a new one. */
async function openSession(ctx: Ctx, run: PollRun | undefined): Promise<Session> {
  const job = run?.startedAt ?? null;
  const kept = sessions.get(ctx);
  if (kept) {
    if (kept.linger) clearTimeout(kept.linger);
    kept.linger = null;
    if (kept.job === job && job !== null && kept.client.usable) return kept;
    endSession(ctx, kept);
  }
  const client = await connectImap(ctx.settings, ctx.log);
  const session: Session = { client, job, mailboxes: null, pending: new Map(), linger: null };
  sessions.set(ctx, session);
  return session;
}

function parkSession(ctx: Ctx, session: Session): void {
  session.linger = setTimeout(() => endSession(ctx, session), LINGER_MS);
  session.linger.unref();
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

type Page = { payloads: EmailPayload[]; failures: PollFailure[]; checkpoint: ImapCheckpoint };

/** Reads the next page of the first mailbox that has new letters; an empty page means every mailbox is caught up. */
async function syncPage(ctx: Ctx, session: Session, checkpoint: ImapCheckpoint): Promise<Page> {
  const { settings } = ctx;
  const server = serverName(settings);
  session.mailboxes ??= resolveMailboxes(await session.client.list(), settings.mailboxes, ctx.log, server);
  const company = companyOf(settings);
  const cursors = { ...checkpoint.mailboxes };
  const options = { since: settings.since ? new Date(`${settings.since}T00:00:00Z`) : null, batchSize: settings.batchSize, maxMessageBytes: settings.maxMessageBytes, log: ctx.log };
  for (const { path } of session.mailboxes) {
    let step = await syncMailbox(session, path, cursors[path], options, server);
    cursors[path] = step.cursor;
    // A page whose letters were all expunged meanwhile: on to the next page of the same mailbox.
    while (step.messages.length === 0 && step.more) {
      step = await syncMailbox(session, path, cursors[path], options, server);
      cursors[path] = step.cursor;
    }
    if (step.messages.length === 0) continue;
    const context: MessageContext = {
      account: accountOf(settings),
      mailbox: path,
      uidValidity: step.cursor.uidValidity,
      parties: company,
      excerptChars: settings.excerptChars,
      signaturePhones: settings.signaturePhones,
      defaultCountry: settings.defaultCountry,
      companyPhones: companyPhoneSet(settings.companyPhones, settings.defaultCountry),
    };
    const payloads: EmailPayload[] = [];
    const failures: PollFailure[] = [];
    for (const message of step.messages) {
      const read = await readMessage(message, context);
      if ('payload' in read) payloads.push(read.payload);
      else {
        ctx.log.warn({ failure: read.failure.id, error: read.failure.error }, 'a letter cannot become an interaction; it is in the failed set of connector events');
        failures.push(read.failure);
      }
    }
    return { payloads, failures, checkpoint: { v: 1, mailboxes: cursors } };
  }
  return { payloads: [], failures: [], checkpoint: { v: 1, mailboxes: cursors } };
}

/**
 * One page of a poll. Reads a page of new letters and returns it (the runtime queues the records,
 * then saves the checkpoint, then calls again at once on the same connection). Once every mailbox
 * is caught up it waits in IDLE, until about the next scheduled poll, for new mail, which it
 * returns the same way. A lost connection is re-opened with backoff within the run.
 */
async function pollPage(ctx: Ctx, checkpoint: ImapCheckpoint | null, run: PollRun | undefined): Promise<PollOutcome<ImapCheckpoint>> {
  const { settings } = ctx;
  const server = serverName(settings);
  let current: ImapCheckpoint = checkpoint ?? { v: 1, mailboxes: {} };
  // End a little before the next scheduled poll, so that one finds the lock free.
  const windowEnd = run ? run.startedAt + run.everyMs - Math.min(5_000, run.everyMs / 10) : 0;
  const until = Math.min(windowEnd, Date.now() + MAX_WAIT_MS);
  let failed = 0;
  for (;;) {
    if (run?.signal.aborted) {
      const kept = sessions.get(ctx);
      if (kept) endSession(ctx, kept);
      return { payloads: [], checkpoint: current, more: false };
    }
    let session: Session | undefined;
    try {
      session = await openSession(ctx, run);
      const page = await syncPage(ctx, session, current);
      current = page.checkpoint;
      failed = 0;
      if (page.payloads.length > 0 || page.failures.length > 0) {
        parkSession(ctx, session);
        return { payloads: page.payloads, failures: page.failures, checkpoint: current, more: true };
      }
      if (!settings.idle || !run || Date.now() >= until - 1_000) {
        endSession(ctx, session);
        return { payloads: [], checkpoint: current, more: false };
      }
      const watched = (session.mailboxes ?? []).map(({ path }) => ({ path, cursor: current.mailboxes[path] }));
      const result = await waitForNews(session.client, watched, { until, watchdogMs: settings.watchdogSec * 1000, timeoutMs: settings.timeoutMs, signal: run.signal, server });
      if (result === 'news') continue;
      if (result === 'quiet' && until < windowEnd - 1_000) {
        // Only this wait is over, not the poll: let the runtime renew the lock, then wait on.
        parkSession(ctx, session);
        return { payloads: [], checkpoint: current, more: true };
      }
      endSession(ctx, session);
      return { payloads: [], checkpoint: current, more: false };
    } catch (err) {
      const error = imapError(err, server, settings.user);
      const kept = sessions.get(ctx);
      if (kept) endSession(ctx, kept);
      else if (session) void disconnect(session.client);
      failed += 1;
      // Exponential backoff with jitter: 1, 2, 4, 8, 16 s (±20 %).
      const backoff = Math.min(30_000, 1000 * 2 ** (failed - 1)) * (0.8 + Math.random() * 0.4);
      if (!worthReconnecting(error) || !run || failed > MAX_RECONNECTS || Date.now() + backoff >= until) throw error;
      ctx.log.warn({ err: error, attempt: failed, retryInMs: Math.round(backoff) }, 'IMAP connection failed; reconnecting');
      await sleep(backoff, run.signal);
    }
  }
}

/**
 * Email over IMAP (imapflow): reads INBOX and Sent (or the configured mailboxes) of one account
 * and turns each letter into an `email` interaction on the profile of each customer — whoever is
 * not the company. Position per mailbox: UIDVALIDITY + last UID (+ HIGHESTMODSEQ). Follows new
 * mail with IDLE between polls, with a STATUS watchdog; the poll lock keeps it to one connection
 * per account across the cluster.
 */
export const imapConnector = defineConnector({
  type: 'imap',
  version: 1,
  description: 'Email over IMAP: letters in INBOX and Sent become email interactions on the customers’ profiles; IDLE for new mail, polls as fallback',
  settingsSchema: ImapSettings,
  mappings: [imapMapping],
  async test(ctx) {
    const { settings } = ctx;
    const server = serverName(settings);
    companyOf(settings);
    const client = await connectImap(settings, ctx.log);
    try {
      const list = await client.list();
      const mailboxes = resolveMailboxes(list, settings.mailboxes, ctx.log, server);
      const counts: string[] = [];
      for (const { path } of mailboxes) {
        const status = await client.status(path, { messages: true });
        counts.push(`${path} (${status && status.messages !== undefined ? `${status.messages} letters` : 'count unknown'})`);
      }
      return `logged in to ${server} as "${settings.user}"; the account has ${list.length} mailboxes (${list.map((m) => m.path).join(', ')}); reading ${counts.join(', ')}`;
    } catch (err) {
      throw imapError(err, server, settings.user);
    } finally {
      await disconnect(client);
    }
  },
  poll: {
    everyMs: 60_000,
    readCheckpoint: readImapCheckpoint,
    run: pollPage,
  },
});
