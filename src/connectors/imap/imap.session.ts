import { ImapFlow, type ExistsEvent, type ImapFlowOptions, type ListResponse, type MailboxLockObject, type MailboxObject, type StatusObject, type StatusQuery } from 'imapflow';
import type { Logger } from 'pino';
import { HubError } from '../../core/errors.js';
import { advanceCursor, planMailbox, type MailboxCursor, type MailboxState } from './imap.checkpoint.js';
import { imapError } from './imap.errors.js';
import type { RawMessage } from './imap.message.js';
import type { ImapSettings } from './imap.settings.js';

/** "the IMAP server imap.example.com:993", for messages. */
export function serverName(settings: Pick<ImapSettings, 'host' | 'port' | 'tls'>): string {
  return `the IMAP server ${settings.host}:${settings.port ?? (settings.tls === 'implicit' ? 993 : 143)}`;
}

// imapflow logs every connection step at info and protocol lines at debug, and a dropped
// connection as warnings and errors; the connector reports each failure itself, classified, so
// imapflow's own entries go one or two levels down and the hub's log tells one story.
function imapLogger(log: Logger): NonNullable<ImapFlowOptions['logger']> {
  const child = log.child({ component: 'imapflow' });
  return {
    debug: (entry: object) => child.trace(entry),
    info: (entry: object) => child.debug(entry),
    warn: (entry: object) => child.debug(entry),
    error: (entry: object) => child.debug(entry),
  };
}

/**
 * Opens one authenticated connection. imapflow instances are single-use (postalsys/imapflow#267,
 * #83): a closed one is never reused, the caller makes a new one, with backoff (imapflow has no
 * reconnect of its own, #64). Auto-IDLE is off: IDLE runs only while a poll waits for mail, inside
 * the poll's cluster-wide lock.
 */
export async function connectImap(settings: ImapSettings, log: Logger): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: settings.host,
    port: settings.port ?? (settings.tls === 'implicit' ? 993 : 143),
    secure: settings.tls === 'implicit',
    // undefined would upgrade only when offered and otherwise send the password in clear (imapflow types: doSTARTTLS).
    doSTARTTLS: settings.tls === 'starttls',
    tls: { rejectUnauthorized: settings.tlsVerify },
    auth: { user: settings.user, pass: settings.password },
    logger: imapLogger(log),
    clientInfo: { name: 'crm-hub' },
    disableAutoIdle: true,
    // Servers and NAT boxes drop long IDLEs; RFC 2177 asks clients to re-issue IDLE within 29 minutes.
    maxIdleTime: 4 * 60_000,
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: Math.min(settings.timeoutMs, 16_000),
  });
  // An 'error' event without a listener would crash the process; the close that follows is what we act on.
  client.on('error', (err: Error) => log.debug({ err }, 'IMAP connection error'));
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw imapError(err, serverName(settings), settings.user);
  }
  return client;
}

/** Ends a connection politely (LOGOUT), or at once when it is already broken. */
export async function disconnect(client: ImapFlow): Promise<void> {
  if (client.usable) await client.logout().catch(() => client.close());
  else client.close();
}

/** A configured mailbox and the folder it is on this server. */
export type ResolvedMailbox = { configured: string; path: string };

/**
 * Finds the configured mailboxes in LIST: a path as written (INBOX in any case), or a special-use
 * name ("\Sent") through the server's SPECIAL-USE flags or imapflow's guess from common names.
 * A missing path is an error; a missing special-use folder is only a warning (the default asks
 * for "\Sent", which some accounts do not have).
 */
export function resolveMailboxes(list: readonly Pick<ListResponse, 'path' | 'specialUse'>[], configured: readonly string[], log: Logger, server: string): ResolvedMailbox[] {
  const resolved: ResolvedMailbox[] = [];
  for (const name of configured) {
    let path: string | undefined;
    if (name.startsWith('\\')) {
      path = list.find((m) => m.specialUse?.toLowerCase() === name.toLowerCase())?.path;
      if (!path) {
        log.warn({ mailbox: name }, `no ${name} mailbox on this account; not reading one`);
        continue;
      }
    } else {
      path = name.toUpperCase() === 'INBOX' ? 'INBOX' : list.find((m) => m.path === name)?.path;
      if (!path) {
        throw new HubError('UPSTREAM_REJECTED', `${server}: mailbox "${name}" does not exist; the account has ${list.map((m) => `"${m.path}"`).join(', ') || 'no mailboxes'}`);
      }
    }
    if (!resolved.some((r) => r.path === path)) resolved.push({ configured: name, path });
  }
  if (resolved.length === 0) throw new HubError('UPSTREAM_REJECTED', `${server}: none of the configured mailboxes (${configured.join(', ')}) exists`);
  return resolved;
}

/**
 * UIDs waiting to be downloaded in one mailbox, collected once per connection (a FETCH of UID, size
 * and date). `done` is where the cursor may go once the queue is empty: past every UID collected and
 * below the UIDNEXT seen at SELECT — new letters get UIDs from there on (RFC 3501 §2.3.1.1), so the
 * UIDs in between were expunged before anyone read them and must not keep looking like news.
 */
type Pending = { uidValidity: string; after: number; queue: { uid: number; size: number }[]; done: number };

/** One connection and what it learnt; lives for one poll job (its pages), never longer. */
export type Session = {
  client: ImapFlow;
  /** The poll job it belongs to (PollRun.startedAt); a new job opens a new connection. */
  job: number | null;
  mailboxes: ResolvedMailbox[] | null;
  pending: Map<string, Pending>;
  linger: NodeJS.Timeout | null;
};

export type SyncOptions = { since: Date | null; batchSize: number; maxMessageBytes: number; log: Logger };

/** One page of one mailbox: the letters downloaded, and the cursor once they are handled. */
export type SyncStep = { messages: RawMessage[]; cursor: MailboxCursor; more: boolean };

// A page's downloads stay below this many bytes (unless one letter alone is larger).
const PAGE_BYTES = 20 * 1024 * 1024;

function toDate(value: Date | string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function stateOf(status: StatusObject | MailboxObject, path: string, server: string): MailboxState {
  const uidValidity = status.uidValidity;
  const uidNext = status.uidNext;
  if (uidValidity === undefined || uidNext === undefined) throw new HubError('UPSTREAM_UNAVAILABLE', `${server} did not tell UIDVALIDITY and UIDNEXT of "${path}"`);
  const messages = 'exists' in status ? status.exists : status.messages;
  return { uidValidity, uidNext, highestModseq: status.highestModseq, messages };
}

/**
 * Reads the next page of a mailbox after its cursor. STATUS first: an unchanged mailbox costs no
 * SELECT. Then, in the mailbox opened read-only (EXAMINE: \Seen is never touched, other clients
 * own it), the UIDs above the cursor are collected with one FETCH and the sources of a page are
 * downloaded with another — never a command inside a fetch iterator (postalsys/imapflow#159, #110).
 */
export async function syncMailbox(session: Session, path: string, cursor: MailboxCursor | undefined, options: SyncOptions, server: string): Promise<SyncStep> {
  const { client } = session;
  const status = await client.status(path, { uidNext: true, uidValidity: true, highestModseq: true, messages: true });
  if (!status) throw new HubError('UPSTREAM_UNAVAILABLE', `${server} refused STATUS of "${path}"`);
  const quick = planMailbox(cursor, stateOf(status, path, server));
  if (quick.upToDate && !quick.rescan) return { messages: [], cursor: advanceCursor(quick, stateOf(status, path, server), 0), more: false };

  const lock = await client.getMailboxLock(path, { readOnly: true });
  try {
    const mailbox = client.mailbox;
    if (!mailbox) throw new HubError('UPSTREAM_UNAVAILABLE', `${server} closed "${path}" while it was being read`);
    // SELECT is the truth; the STATUS above may be a moment older.
    const state = stateOf(mailbox, path, server);
    const plan = planMailbox(cursor, state);
    if (plan.rescan) options.log.warn({ mailbox: path, was: cursor?.uidValidity, now: state.uidValidity.toString() }, 'UIDVALIDITY changed: reading the whole mailbox again (letters already read update their records)');
    // `FETCH 1:*` on an empty mailbox is a BAD (postalsys/imapflow#209); and below UIDNEXT there is nothing to wait for.
    if (mailbox.exists === 0) return { messages: [], cursor: advanceCursor(plan, state, state.uidNext - 1), more: false };
    if (plan.upToDate) return { messages: [], cursor: advanceCursor(plan, state, 0), more: false };

    const uidValidity = state.uidValidity.toString();
    let pending = session.pending.get(path);
    if (!pending || pending.uidValidity !== uidValidity || pending.after !== plan.after) {
      const meta = await client.fetchAll(`${plan.after + 1}:*`, { uid: true, size: true, internalDate: true }, { uid: true });
      // "N:*" always includes the last message, even when its UID is below N (RFC 3501 §6.4.8).
      const above = meta.filter((m) => m.uid > plan.after).sort((a, b) => a.uid - b.uid);
      const since = options.since;
      const wanted = since ? above.filter((m) => (toDate(m.internalDate) ?? since) >= since) : above;
      const done = above.reduce((max, m) => Math.max(max, m.uid), Math.max(plan.after, state.uidNext - 1));
      pending = { uidValidity, after: plan.after, queue: wanted.map((m) => ({ uid: m.uid, size: m.size ?? 0 })), done };
    }

    const batch: { uid: number; size: number }[] = [];
    let bytes = 0;
    for (const item of pending.queue) {
      const size = Math.min(item.size, options.maxMessageBytes);
      if (batch.length >= options.batchSize || (batch.length > 0 && bytes + size > PAGE_BYTES)) break;
      batch.push(item);
      bytes += size;
    }
    const rest = pending.queue.slice(batch.length);
    const last = batch[batch.length - 1];
    if (rest.length > 0 && last) session.pending.set(path, { ...pending, after: last.uid, queue: rest });
    else session.pending.delete(path);
    if (!last) return { messages: [], cursor: advanceCursor(plan, state, pending.done), more: false };

    const whole = batch.filter((m) => m.size <= options.maxMessageBytes).map((m) => m.uid);
    const large = batch.filter((m) => m.size > options.maxMessageBytes).map((m) => m.uid);
    const fetched = whole.length > 0 ? await client.fetchAll(whole.join(','), { uid: true, source: true, internalDate: true, size: true }, { uid: true }) : [];
    for (const uid of large) {
      fetched.push(...(await client.fetchAll(String(uid), { uid: true, source: { maxLength: options.maxMessageBytes }, internalDate: true, size: true }, { uid: true })));
    }
    const largeSet = new Set(large);
    const messages = fetched
      .filter((m): m is typeof m & { source: Buffer } => m.source !== undefined && batch.some((b) => b.uid === m.uid))
      .sort((a, b) => a.uid - b.uid)
      .map((m) => ({ uid: m.uid, source: m.source, internalDate: toDate(m.internalDate), size: m.size, truncated: largeSet.has(m.uid) }));
    // A letter expunged between the two FETCHes is gone: the cursor moves past it all the same.
    return { messages, cursor: advanceCursor(plan, state, rest.length > 0 ? last.uid : pending.done), more: rest.length > 0 };
  } finally {
    lock.release();
  }
}

/** The part of ImapFlow that waiting for mail uses (a fake in unit tests). */
export type IdleClient = {
  mailbox: MailboxObject | false;
  getMailboxLock(path: string, options?: { readOnly?: boolean }): Promise<MailboxLockObject>;
  idle(): Promise<boolean | undefined>;
  status(path: string, query: StatusQuery): Promise<StatusObject | false>;
  on(event: 'exists', listener: (event: ExistsEvent) => void): unknown;
  on(event: 'mailboxOpen', listener: (mailbox: MailboxObject) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'exists', listener: (event: ExistsEvent) => void): unknown;
  off(event: 'mailboxOpen', listener: (mailbox: MailboxObject) => void): unknown;
  off(event: 'close', listener: () => void): unknown;
};

export type WatchedMailbox = { path: string; cursor: MailboxCursor | undefined };

export type WaitOptions = {
  /** Give up waiting at this time (ms since epoch). */
  until: number;
  /** STATUS of every watched mailbox this often. */
  watchdogMs: number;
  /** A watchdog STATUS that takes longer means a dead connection. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  server: string;
};

/** Why the wait ended: new mail (or a UIDVALIDITY change) to read, nothing until `until`, or the hub is stopping. */
export type WaitResult = 'news' | 'quiet' | 'stopped';

function hasNews(state: { uidValidity?: bigint | undefined; uidNext?: number | undefined }, cursor: MailboxCursor | undefined): boolean {
  if (!cursor) return true;
  if (state.uidValidity !== undefined && state.uidValidity.toString() !== cursor.uidValidity) return true;
  return state.uidNext !== undefined && state.uidNext > cursor.lastUid + 1;
}

/**
 * Waits in IDLE on the first watched mailbox (IDLE watches one mailbox per connection, RFC 2177)
 * until it reports new mail. IDLE can stop reporting without a word (postalsys/imapflow#14), so a
 * watchdog asks STATUS of every watched mailbox each `watchdogMs` — that also notices letters
 * filed into the others (Sent) — and treats a STATUS that does not answer in `timeoutMs` as a
 * dead connection. Rejects when the connection closes; the caller reconnects.
 */
export async function waitForNews(client: IdleClient, watched: readonly WatchedMailbox[], options: WaitOptions): Promise<WaitResult> {
  const first = watched[0];
  if (!first || options.signal?.aborted) return 'stopped';
  const lock = await client.getMailboxLock(first.path, { readOnly: true });
  try {
    if (client.mailbox && hasNews(client.mailbox, first.cursor)) return 'news';
    return await new Promise<WaitResult>((resolve, reject) => {
      let done = false;
      let checking = false;
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(quiet);
        clearInterval(watchdog);
        client.off('exists', onExists);
        client.off('mailboxOpen', onMailboxOpen);
        client.off('close', onClose);
        options.signal?.removeEventListener('abort', onAbort);
        settle();
      };
      const onExists = (event: ExistsEvent) => {
        if (event.path === first.path && event.count > event.prevCount) finish(() => resolve('news'));
      };
      // imapflow re-emits mailboxOpen when a re-SELECT finds a new UIDVALIDITY.
      const onMailboxOpen = (mailbox: MailboxObject) => {
        if (mailbox.path === first.path && hasNews(mailbox, first.cursor)) finish(() => resolve('news'));
      };
      const onClose = () => finish(() => reject(new HubError('UPSTREAM_UNAVAILABLE', `the connection to ${options.server} was lost while waiting for mail (IDLE)`)));
      const onAbort = () => finish(() => resolve('stopped'));
      const idle = () => void client.idle().catch(() => undefined);
      const check = async () => {
        if (checking || done) return;
        checking = true;
        try {
          for (const w of watched) {
            let timer: NodeJS.Timeout | undefined;
            const timeout = new Promise<never>((_, fail) => {
              timer = setTimeout(() => fail(new HubError('UPSTREAM_UNAVAILABLE', `${options.server} did not answer STATUS within ${options.timeoutMs} ms; the connection is taken for dead`)), options.timeoutMs);
            });
            const status = await Promise.race([client.status(w.path, { uidNext: true, uidValidity: true }), timeout]).finally(() => clearTimeout(timer));
            if (done) return;
            if (status && hasNews(status, w.cursor)) return finish(() => resolve('news'));
          }
          // STATUS ended IDLE (imapflow breaks it to send a command); start it again.
          if (!done) idle();
        } catch (err) {
          finish(() => reject(err));
        } finally {
          checking = false;
        }
      };
      const quiet = setTimeout(() => finish(() => resolve('quiet')), Math.max(0, options.until - Date.now()));
      const watchdog = setInterval(() => void check(), options.watchdogMs);
      client.on('exists', onExists);
      client.on('mailboxOpen', onMailboxOpen);
      client.on('close', onClose);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      idle();
    });
  } finally {
    lock.release();
  }
}
