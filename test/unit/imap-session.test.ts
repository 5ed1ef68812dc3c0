import { EventEmitter } from 'node:events';
import type { ExistsEvent, FetchMessageObject, FetchQueryObject, ImapFlow, MailboxObject, StatusObject } from 'imapflow';
import { describe, expect, it } from 'vitest';
import { advanceCursor, planMailbox, readImapCheckpoint } from '../../src/connectors/imap/imap.checkpoint.js';
import { imapError, worthReconnecting } from '../../src/connectors/imap/imap.errors.js';
import { resolveMailboxes, syncMailbox, waitForNews, type IdleClient, type Session } from '../../src/connectors/imap/imap.session.js';
import { createLogger } from '../../src/core/logger.js';

const log = createLogger({ level: 'silent' });

describe('the IMAP checkpoint', () => {
  it('reads on after the last UID under the same UIDVALIDITY, and knows when nothing can be new', () => {
    const cursor = { uidValidity: '100', lastUid: 7 };
    expect(planMailbox(cursor, { uidValidity: 100n, uidNext: 8 })).toEqual({ after: 7, rescan: false, upToDate: true });
    expect(planMailbox(cursor, { uidValidity: 100n, uidNext: 12 })).toEqual({ after: 7, rescan: false, upToDate: false });
    expect(planMailbox(undefined, { uidValidity: 100n, uidNext: 1 })).toEqual({ after: 0, rescan: false, upToDate: true });
  });

  it('starts the mailbox over when UIDVALIDITY changed (RFC 3501 §2.3.1.1), and never moves backwards', () => {
    const plan = planMailbox({ uidValidity: '100', lastUid: 40 }, { uidValidity: 200n, uidNext: 5 });
    expect(plan).toEqual({ after: 0, rescan: true, upToDate: false });
    expect(advanceCursor(plan, { uidValidity: 200n, uidNext: 5, highestModseq: 9n }, 4)).toEqual({ uidValidity: '200', lastUid: 4, highestModseq: '9' });
    expect(advanceCursor({ after: 10, rescan: false, upToDate: false }, { uidValidity: 1n, uidNext: 20 }, 3)).toEqual({ uidValidity: '1', lastUid: 10 });
  });

  it('accepts only checkpoints it wrote', () => {
    const good = { v: 1, mailboxes: { INBOX: { uidValidity: '1795777384', lastUid: 3, highestModseq: '12' } } };
    expect(readImapCheckpoint(good)).toEqual(good);
    expect(readImapCheckpoint({ v: 1, mailboxes: { INBOX: { uidValidity: 1795777384, lastUid: 3 } } })).toBeNull();
    expect(readImapCheckpoint({ v: 1, mailboxes: { INBOX: { lastUid: 3 } } })).toBeNull();
    expect(readImapCheckpoint({ since: '2026-01-01' })).toBeNull();
  });
});

describe('imapflow errors, classified by their codes', () => {
  const server = 'the IMAP server imap.example.com:993';
  const err = (props: Record<string, unknown>, message = 'Command failed') => Object.assign(new Error(message), props);

  it('a refused login is not worth retrying and says what to check', () => {
    const e = imapError(err({ authenticationFailed: true, serverResponseCode: 'AUTHENTICATIONFAILED', response: '2 NO [AUTHENTICATIONFAILED] Authentication failed.' }), server, 'alice');
    expect(e.code).toBe('HUB_ERR_UPSTREAM_REJECTED');
    expect(e.message).toBe(`${server} rejected the login of "alice": wrong user or password, or the account needs an app password or IMAP turned on (server: Authentication failed.)`);
    expect(worthReconnecting(e)).toBe(false);
  });

  it('a TLS mismatch names the settings to look at', () => {
    const e = imapError(err({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' }, 'wrong version number'), server, 'alice');
    expect(e.code).toBe('HUB_ERR_UPSTREAM_REJECTED');
    expect(e.message).toContain('TLS with the IMAP server imap.example.com:993 failed (ERR_SSL_WRONG_VERSION_NUMBER');
    expect(imapError(err({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'self-signed certificate'), server, 'a').message).toContain('"tlsVerify"');
  });

  it('a server that is down or a dropped connection is worth reconnecting', () => {
    const down = imapError(err({ code: 'ECONNREFUSED' }, 'connect ECONNREFUSED 127.0.0.1:993'), server, 'a');
    expect(down.message).toBe(`cannot reach ${server} (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:993)`);
    expect(worthReconnecting(down)).toBe(true);
    const lost = imapError(err({ code: 'NoConnection' }, 'Connection not available'), server, 'a');
    expect(lost.message).toBe(`the connection to ${server} was lost (NoConnection)`);
    expect(worthReconnecting(lost)).toBe(true);
    expect(imapError(err({ code: 'NotFound', path: 'Archive' }, "Mailbox doesn't exist: Archive"), server, 'a').code).toBe('HUB_ERR_UPSTREAM_REJECTED');
  });
});

describe('resolving the configured mailboxes', () => {
  const list = [
    { path: 'INBOX', specialUse: '\\Inbox' },
    { path: 'Отправленные', specialUse: '\\Sent' },
    { path: 'Archive' },
  ];

  it('finds a special-use folder by its flag and a path as written', () => {
    expect(resolveMailboxes(list, ['inbox', '\\Sent', 'Archive'], log, 's')).toEqual([
      { configured: 'inbox', path: 'INBOX' },
      { configured: '\\Sent', path: 'Отправленные' },
      { configured: 'Archive', path: 'Archive' },
    ]);
  });

  it('a missing path is an error naming what exists; a missing special-use folder is skipped', () => {
    expect(() => resolveMailboxes(list, ['INBOX', 'Sent Items'], log, 's')).toThrow('s: mailbox "Sent Items" does not exist; the account has "INBOX", "Отправленные", "Archive"');
    expect(resolveMailboxes(list, ['INBOX', '\\Junk'], log, 's')).toEqual([{ configured: 'INBOX', path: 'INBOX' }]);
  });
});

/** Enough of ImapFlow for waitForNews: IDLE does nothing unless told, STATUS answers what the test says. */
class FakeClient extends EventEmitter implements IdleClient {
  mailbox: MailboxObject | false = false;
  idles = 0;
  statuses = 0;
  uidNext = 5;
  hang = false;
  async getMailboxLock(path: string) {
    this.mailbox = { path, uidValidity: 1n, uidNext: this.uidNext, exists: 4, delimiter: '/', flags: new Set() };
    return { path, release: () => undefined };
  }
  async idle() {
    this.idles += 1;
    return undefined;
  }
  status(path: string): Promise<StatusObject | false> {
    this.statuses += 1;
    if (this.hang) return new Promise(() => undefined);
    return Promise.resolve({ path, uidNext: this.uidNext, uidValidity: 1n });
  }
}

describe('waiting for mail in IDLE', () => {
  const cursor = { uidValidity: '1', lastUid: 4 };
  const watched = [
    { path: 'INBOX', cursor },
    { path: 'Sent', cursor: { uidValidity: '1', lastUid: 2 } },
  ];
  const options = (over: Partial<Parameters<typeof waitForNews>[2]> = {}) => ({ until: Date.now() + 2000, watchdogMs: 60_000, timeoutMs: 200, server: 'the IMAP server x:143', ...over });

  it('returns when IDLE reports a new message', async () => {
    const client = new FakeClient();
    const waiting = waitForNews(client, watched, options());
    await new Promise((r) => setTimeout(r, 20));
    client.emit('exists', { path: 'INBOX', count: 5, prevCount: 4 } satisfies ExistsEvent);
    await expect(waiting).resolves.toBe('news');
    expect(client.idles).toBe(1);
  });

  it('notices new mail through the STATUS watchdog when IDLE stays silent, in any watched mailbox', async () => {
    const client = new FakeClient();
    client.status = (path: string) => Promise.resolve({ path, uidNext: path === 'Sent' ? 4 : 5, uidValidity: 1n });
    await expect(waitForNews(client, watched, options({ watchdogMs: 30 }))).resolves.toBe('news');
  });

  it('goes back to IDLE after a watchdog STATUS that finds nothing, and ends quietly at the deadline', async () => {
    const client = new FakeClient();
    client.status = (path: string) => Promise.resolve({ path, uidNext: path === 'Sent' ? 3 : 5, uidValidity: 1n });
    await expect(waitForNews(client, watched, options({ watchdogMs: 30, until: Date.now() + 200 }))).resolves.toBe('quiet');
    expect(client.idles).toBeGreaterThan(2);
  });

  it('takes a STATUS that does not answer for a dead connection', async () => {
    const client = new FakeClient();
    client.hang = true;
    await expect(waitForNews(client, watched, options({ watchdogMs: 20 }))).rejects.toThrow('did not answer STATUS within 200 ms; the connection is taken for dead');
  });

  it('rejects when the connection closes, and returns at once when the hub stops', async () => {
    const client = new FakeClient();
    const waiting = waitForNews(client, watched, options());
    await new Promise((r) => setTimeout(r, 10));
    client.emit('close');
    await expect(waiting).rejects.toThrow('was lost while waiting for mail (IDLE)');

    const stop = new AbortController();
    const stopping = waitForNews(new FakeClient(), watched, options({ signal: stop.signal }));
    await new Promise((r) => setTimeout(r, 10));
    stop.abort();
    await expect(stopping).resolves.toBe('stopped');
  });

  it('does not wait at all when the mailbox already has more than the cursor, or a new UIDVALIDITY', async () => {
    const client = new FakeClient();
    client.uidNext = 9;
    await expect(waitForNews(client, watched, options())).resolves.toBe('news');
    await expect(waitForNews(new FakeClient(), [{ path: 'INBOX', cursor: { uidValidity: '2', lastUid: 4 } }], options())).resolves.toBe('news');
  });
});

/** A mailbox on a fake server: FETCH answers like IMAP ("N:*" includes the last message), every call is recorded. */
class FakeServer {
  uidValidity = 10n;
  uidNext = 1;
  letters: { uid: number; size: number; internalDate: Date }[] = [];
  calls: string[] = [];
  mailbox: MailboxObject | false = false;
  add(count: number, size = 100, internalDate = new Date('2026-02-01T00:00:00Z')) {
    for (let i = 0; i < count; i += 1) this.letters.push({ uid: this.uidNext++, size, internalDate });
  }
  async status(path: string): Promise<StatusObject> {
    this.calls.push(`STATUS ${path}`);
    return { path, uidNext: this.uidNext, uidValidity: this.uidValidity, messages: this.letters.length, highestModseq: 42n };
  }
  async getMailboxLock(path: string) {
    this.calls.push(`EXAMINE ${path}`);
    this.mailbox = { path, uidValidity: this.uidValidity, uidNext: this.uidNext, exists: this.letters.length, delimiter: '/', flags: new Set(), highestModseq: 42n };
    return { path, release: () => undefined };
  }
  async fetchAll(range: string, query: FetchQueryObject): Promise<FetchMessageObject[]> {
    this.calls.push(`FETCH ${range}${query.source ? (typeof query.source === 'object' ? ' source<partial>' : ' source') : ''}`);
    let picked: typeof this.letters;
    if (range.endsWith(':*')) {
      const from = Number(range.slice(0, -2));
      picked = this.letters.filter((l) => l.uid >= from);
      if (picked.length === 0 && this.letters.length > 0) picked = [this.letters[this.letters.length - 1]!];
    } else {
      const uids = new Set(range.split(',').map(Number));
      picked = this.letters.filter((l) => uids.has(l.uid));
    }
    return picked.map((l, i) => ({ seq: i + 1, uid: l.uid, size: l.size, internalDate: l.internalDate, ...(query.source ? { source: Buffer.from(`letter ${l.uid}`) } : {}) }));
  }
}

describe('reading a mailbox page by page', () => {
  const options = { since: null, batchSize: 2, maxMessageBytes: 1000, log };
  const sessionOf = (server: FakeServer): Session => ({ client: server as unknown as ImapFlow, job: 1, mailboxes: null, pending: new Map(), linger: null });

  it('collects the UIDs once, downloads a page at a time, and moves the cursor with each page', async () => {
    const server = new FakeServer();
    server.add(5);
    const session = sessionOf(server);
    const first = await syncMailbox(session, 'INBOX', undefined, options, 's');
    expect(first.messages.map((m) => m.uid)).toEqual([1, 2]);
    expect(first).toMatchObject({ more: true, cursor: { uidValidity: '10', lastUid: 2, highestModseq: '42' } });
    const second = await syncMailbox(session, 'INBOX', first.cursor, options, 's');
    const third = await syncMailbox(session, 'INBOX', second.cursor, options, 's');
    expect([second.messages.map((m) => m.uid), third.messages.map((m) => m.uid), third.more, third.cursor.lastUid]).toEqual([[3, 4], [5], false, 5]);
    expect(server.calls.filter((c) => c.startsWith('FETCH'))).toEqual(['FETCH 1:*', 'FETCH 1,2 source', 'FETCH 3,4 source', 'FETCH 5 source']);
    server.calls = [];
    expect(await syncMailbox(session, 'INBOX', third.cursor, options, 's')).toMatchObject({ messages: [], more: false });
    expect(server.calls).toEqual(['STATUS INBOX']);
  });

  it('moves past letters expunged before they were read, so they do not look like news for ever', async () => {
    const server = new FakeServer();
    server.add(5);
    server.uidNext = 8;
    const step = await syncMailbox(sessionOf(server), 'INBOX', { uidValidity: '10', lastUid: 5 }, options, 's');
    expect(step).toMatchObject({ messages: [], more: false, cursor: { lastUid: 7 } });
  });

  it('reads an empty mailbox without FETCH 1:* (a BAD on some servers) and starts over on a new UIDVALIDITY', async () => {
    const server = new FakeServer();
    server.uidNext = 4;
    server.letters = [];
    server.uidValidity = 11n;
    const empty = await syncMailbox(sessionOf(server), 'INBOX', { uidValidity: '10', lastUid: 9 }, options, 's');
    expect(empty).toMatchObject({ messages: [], cursor: { uidValidity: '11', lastUid: 3 } });
    expect(server.calls.some((c) => c.startsWith('FETCH'))).toBe(false);
    server.add(1);
    const after = await syncMailbox(sessionOf(server), 'INBOX', { uidValidity: '9', lastUid: 30 }, options, 's');
    expect(after.messages.map((m) => m.uid)).toEqual([4]);
  });

  it('skips letters received before `since` and reads a letter above maxMessageBytes only in part', async () => {
    const server = new FakeServer();
    server.add(2, 100, new Date('2025-12-01T00:00:00Z'));
    server.add(1, 5000);
    const step = await syncMailbox(sessionOf(server), 'INBOX', undefined, { ...options, since: new Date('2026-01-01T00:00:00Z') }, 's');
    expect(step.messages).toEqual([expect.objectContaining({ uid: 3, truncated: true })]);
    expect(step.cursor.lastUid).toBe(3);
    expect(server.calls).toContain('FETCH 3 source<partial>');
  });
});
