import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_URL } from '../support/env.js';
import { createTestDb, startTestHub, waitFor, type TestDb, type TestHub } from '../support/hub.js';
import { letters, startDovecot, type Dovecot } from '../support/dovecot.js';
import { createPostgresDb } from '../../src/core/store/postgres.db.js';

// A real Dovecot (test/support/dovecot.ts, one per file); letters go in with IMAP APPEND. The hub
// polls every 60 s and alice's connector asks STATUS every 60 s, so a letter in her INBOX that shows
// up within seconds was seen through IDLE; bob's connector asks STATUS every 3 s (the watchdog).

let dovecot: Dovecot;
beforeAll(async () => {
  dovecot = await startDovecot({ alice: 'secret', bob: 'bob-secret' });
});
afterAll(async () => dovecot?.stop());

const company = { companyDomains: ['acme.example'], companyPhones: ['+7 495 111-22-33'] };

function imapConnector(id: string, user: string, password: string, settings: Record<string, unknown> = {}) {
  return { id, type: 'imap', pollEveryMs: 60_000, settings: { host: '127.0.0.1', port: dovecot.port, tls: 'none', user, password, watchdogSec: 60, ...company, ...settings } };
}

type Status = { status: string; lastError: string | null; stats: { received: number; processed: number; failed: number } };
async function status(hub: TestHub, id: string): Promise<Status> {
  return (await hub.request('GET', `/v1/connectors/${id}`)).json() as Status;
}

async function checkpointOf(hub: TestHub, id: string): Promise<{ mailboxes: Record<string, { uidValidity: string; lastUid: number }> } | null> {
  const rows = (await hub.testDb.db.query<{ checkpoint: never }>('SELECT checkpoint FROM connector_state WHERE connector_id = $1', [id])).rows;
  return rows[0]?.checkpoint ?? null;
}

type Profile = { id: string; traits: Record<string, unknown>; identifiers: { type: string; value: string }[] };
type Interaction = { channel: string; direction: string; subject?: string; body?: string; data: Record<string, unknown> };

async function profileByEmail(hub: TestHub, email: string): Promise<Profile | undefined> {
  const found = (await hub.request('GET', `/v1/profiles?email=${encodeURIComponent(email)}`)).json() as { data: { id: string }[] };
  if (found.data.length > 1) throw new Error(`${email} is on ${found.data.length} profiles`);
  const id = found.data[0]?.id;
  return id ? ((await hub.request('GET', `/v1/profiles/${id}`)).json() as Profile) : undefined;
}

async function timelineOf(hub: TestHub, email: string): Promise<Interaction[]> {
  const profile = await profileByEmail(hub, email);
  if (!profile) return [];
  return ((await hub.request('GET', `/v1/profiles/${profile.id}/timeline`)).json() as { data: Interaction[] }).data;
}

async function records(hub: TestHub): Promise<number> {
  return (await hub.store.counts()).records;
}

/** Waits until the store holds `n` records and nothing is queued, then checks it stays at n. */
async function settledAt(hub: TestHub, n: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await records(hub)) >= n, timeoutMs);
  await hub.drained();
  expect(await records(hub)).toBe(n);
}

/** The hub's IMAP logins for a user so far, from Dovecot's log. */
async function logins(user: string): Promise<number> {
  return (await dovecot.log()).split('\n').filter((l) => l.includes(`imap-login: Info: Login: user=<${user}>`)).length;
}

describe('one mailbox read by the hub', () => {
  let hub: TestHub;
  const tag = randomUUID().slice(0, 8);

  beforeAll(async () => {
    for (const letter of [letters.multipart(tag), letters.htmlOnly(tag), letters.windows1251(tag), letters.malformed(tag), letters.customerReply(tag), letters.toTwo(tag)]) {
      await dovecot.append('alice', 'INBOX', letter);
    }
    await dovecot.append('alice', 'Sent', letters.ourReply(tag));
    await dovecot.append('alice', 'Sent', letters.toTwo(tag));
    hub = await startTestHub({
      store: 'postgres',
      config: {
        connectors: [
          imapConnector('mail', 'alice', 'secret'),
          imapConnector('mail-bad', 'alice', 'not-the-password'),
          { ...imapConnector('mail-down', 'alice', 'secret', { port: 1 }), enabled: false },
        ],
      },
    });
  });
  afterAll(async () => hub?.close());

  it('turns each letter into exactly one interaction on the right profile, and a broken one into a failed event', async () => {
    // Ivan 3 (his letter, our reply, his answer), Maria 1, Oleg 1, Sergey 1 and Olga 1 (one letter, in INBOX and in Sent).
    await settledAt(hub, 7);
    await waitFor(async () => (await checkpointOf(hub, 'mail'))?.mailboxes['Sent']?.lastUid === 2);
    expect((await checkpointOf(hub, 'mail'))?.mailboxes['INBOX']).toMatchObject({ lastUid: 6 });

    const ivan = await profileByEmail(hub, 'ivan.petrov@customer.example');
    expect(ivan?.traits).toMatchObject({ fullName: 'Иван Петров', firstName: 'Иван', lastName: 'Петров' });
    expect(ivan?.identifiers).toEqual(expect.arrayContaining([{ type: 'phone', value: '+79161234567', sources: expect.anything() }]));
    const thread = await timelineOf(hub, 'ivan.petrov@customer.example');
    expect(thread.map((i) => [i.direction, i.subject])).toEqual([
      ['inbound', 'Re: Re: Запрос счёта на поставку'],
      ['outbound', 'Re: Запрос счёта на поставку'],
      ['inbound', 'Запрос счёта на поставку'],
    ]);
    expect(thread[0]).toMatchObject({ body: 'Спасибо, оплатим завтра.', data: { inReplyTo: `<r1-${tag}@acme.example>`, thread: `<m1-${tag}@customer.example>` } });
    expect(thread[1]?.data).toMatchObject({ mailbox: 'Sent', inReplyTo: `<m1-${tag}@customer.example>` });
    expect(thread[2]?.data).toMatchObject({ attachments: [{ name: 'реквизиты.pdf', type: 'application/pdf', size: 1500 }], phoneOrigin: 'signature' });

    const maria = await timelineOf(hub, 'maria.garcia@shop.example');
    expect(maria).toEqual([expect.objectContaining({ channel: 'email', direction: 'inbound', body: expect.stringContaining('We would like 5 pallets & a discount «as agreed».') })]);
    expect((await profileByEmail(hub, 'maria.garcia@shop.example'))?.identifiers.map((i) => i.value)).toContain('+34612345678');
    expect(await timelineOf(hub, 'oleg@zavod.example')).toEqual([expect.objectContaining({ subject: 'Счёт оплачен', body: 'Здравствуйте!\nСчёт № 15 оплачен сегодня.\nОлег' })]);
    for (const email of ['sergey@client.example', 'olga@client.example']) {
      expect(await timelineOf(hub, email)).toEqual([expect.objectContaining({ direction: 'outbound', subject: 'Meeting on Friday' })]);
    }
    // The company's people are never customers.
    for (const email of ['alice@acme.example', 'boss@acme.example', 'bob@acme.example', 'sales@acme.example']) expect(await profileByEmail(hub, email)).toBeUndefined();

    await waitFor(async () => (await status(hub, 'mail')).stats.failed === 1);
    const failed = await hub.connectors.queues[0]!.getFailed();
    expect(failed.map((j) => j.failedReason)).toEqual([`letter 4 in INBOX (UIDVALIDITY ${(await checkpointOf(hub, 'mail'))?.mailboxes['INBOX']?.uidValidity}) of alice@127.0.0.1: it has no From header, so nobody can be said to have written it`]);
  });

  it('follows new mail with IDLE, and after its connection is killed reconnects and idles again', async () => {
    await settledAt(hub, 7);
    let started = Date.now();
    await dovecot.append('alice', 'INBOX', letters.plain(tag, 1));
    await settledAt(hub, 8, 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);

    // The server drops the session (as after a restart or a NAT timeout): the poll reconnects with backoff.
    const before = await logins('alice');
    await dovecot.doveadm(['kick', 'alice']);
    await waitFor(async () => (await logins('alice')) > before, 10_000);
    await waitFor(async () => (await dovecot.doveadm(['who', 'alice'])).includes('alice'), 5_000);
    // Past the catch-up read that follows the reconnect: only IDLE can bring the next letter in.
    await new Promise((r) => setTimeout(r, 1000));
    started = Date.now();
    await dovecot.append('alice', 'INBOX', letters.plain(tag, 2));
    await settledAt(hub, 9, 5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    // One connection for the account, not one more per reconnect.
    expect((await dovecot.doveadm(['who', 'alice'])).match(/alice\s+(\d+)/)?.[1]).toBe('1');
    // The only error ever shown is the broken letter's: losing the connection was handled, not reported.
    expect((await status(hub, 'mail')).lastError).toContain('it has no From header');
  });

  it('shows a wrong password as the connector’s error in words, and the test endpoint lists the mailboxes or says what is wrong', async () => {
    await waitFor(async () => (await status(hub, 'mail-bad')).lastError !== null);
    expect(await status(hub, 'mail-bad')).toMatchObject({
      status: 'error',
      lastError: `the IMAP server 127.0.0.1:${dovecot.port} rejected the login of "alice": wrong user or password, or the account needs an app password or IMAP turned on (server: Authentication failed.)`,
    });
    expect((await hub.request('POST', '/v1/connectors/mail-bad/test')).json()).toEqual({ ok: false, message: (await status(hub, 'mail-bad')).lastError });
    const ok = (await hub.request('POST', '/v1/connectors/mail/test')).json() as { ok: boolean; message: string };
    expect(ok).toEqual({ ok: true, message: `logged in to the IMAP server 127.0.0.1:${dovecot.port} as "alice"; the account has 2 mailboxes (INBOX, Sent); reading INBOX (8 letters), Sent (2 letters)` });
    expect((await hub.request('POST', '/v1/connectors/mail-down/test')).json()).toEqual({ ok: false, message: 'cannot reach the IMAP server 127.0.0.1:1 (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1)' });
  });
});

describe('a hub that stops and starts again, and a mailbox whose UIDVALIDITY changes', () => {
  /** A second connection pool on the same schema: a hub closes the database it was given. */
  const reopen = (testDb: TestDb): TestDb => ({ ...testDb, db: createPostgresDb({ connectionString: DATABASE_URL, schema: testDb.schema! }) });

  it('reads what arrived while it was stopped, none twice, and re-reads a reset mailbox without doubling anything', async () => {
    const tag = randomUUID().slice(0, 8);
    const testDb = await createTestDb('postgres');
    const prefix = `test-${randomUUID()}`;
    const config = { connectors: [imapConnector('bob-mail', 'bob', 'bob-secret', { companyAddresses: ['bob@acme.example'], watchdogSec: 3 })] };
    const outbound = (n: number) => Buffer.from(letters.plain(tag, n, 'bob@acme.example').toString('utf8').replace('To: alice@acme.example', `To: client${n}@example.org`));
    let hub: TestHub | undefined;
    try {
      for (const n of [1, 2, 3]) await dovecot.append('bob', 'INBOX', letters.plain(tag, n));
      for (const n of [11, 12]) await dovecot.append('bob', 'Sent', outbound(n));
      hub = await startTestHub({ store: 'postgres', testDb, prefix, config });
      await settledAt(hub, 5);
      await waitFor(async () => (await checkpointOf(hub!, 'bob-mail'))?.mailboxes['Sent']?.lastUid === 2);
      // Closing does not wait for the IDLE to run out (the poll is told to stop).
      let started = Date.now();
      await hub.close();
      hub = undefined;
      expect(Date.now() - started).toBeLessThan(5_000);

      for (const n of [4, 5]) await dovecot.append('bob', 'INBOX', letters.plain(tag, n));
      await dovecot.append('bob', 'Sent', outbound(13));
      hub = await startTestHub({ store: 'postgres', testDb: reopen(testDb), prefix, config });
      await settledAt(hub, 8);
      const first = await checkpointOf(hub, 'bob-mail');
      expect(first?.mailboxes).toMatchObject({ INBOX: { lastUid: 5 }, Sent: { lastUid: 3 } });
      for (const n of [1, 4, 5, 11, 13]) expect(await timelineOf(hub, `${n > 10 ? 'client' : 'customer'}${n}@example.org`)).toHaveLength(1);
      started = Date.now();
      await hub.close();
      hub = undefined;
      expect(Date.now() - started).toBeLessThan(5_000);

      // Sent is deleted and made again (new UIDVALIDITY, UIDs from 1): the old letters come back under new UIDs, with one new.
      const client = await dovecot.imap('bob');
      await client.run('DELETE "Sent"');
      await client.run('CREATE "Sent"');
      await client.close();
      for (const n of [11, 12, 13, 14]) await dovecot.append('bob', 'Sent', outbound(n));
      hub = await startTestHub({ store: 'postgres', testDb: reopen(testDb), prefix, config });
      await waitFor(async () => (await checkpointOf(hub!, 'bob-mail'))?.mailboxes['Sent']?.uidValidity !== first?.mailboxes['Sent']?.uidValidity);
      await settledAt(hub, 9);
      expect((await checkpointOf(hub, 'bob-mail'))?.mailboxes).toMatchObject({ INBOX: { lastUid: 5 }, Sent: { lastUid: 4 } });
      for (const n of [11, 12, 13, 14]) expect(await timelineOf(hub, `client${n}@example.org`)).toHaveLength(1);
      expect((await status(hub, 'bob-mail')).stats.failed).toBe(0);

      // IDLE watches INBOX only; a letter filed into Sent meanwhile is found by the STATUS watchdog.
      await new Promise((r) => setTimeout(r, 500));
      started = Date.now();
      await dovecot.append('bob', 'Sent', outbound(15));
      await settledAt(hub, 10, 8_000);
      expect(Date.now() - started).toBeLessThan(8_000);
    } finally {
      await hub?.close();
      await testDb.drop();
    }
  });
});
