import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/core/redis.js';

const run = promisify(execFile);

/** A private Dovecot for one test file: plain auth on loopback, a throwaway Maildir per user. */
export type Dovecot = {
  host: string;
  port: number;
  dir: string;
  /** Passwords of the users it knows. */
  users: Record<string, string>;
  /** `doveadm` with this instance's config, e.g. `['kick', 'alice']`. */
  doveadm(args: string[]): Promise<string>;
  /** The server's log so far (logins, disconnects), for tests that count connections. */
  log(): Promise<string>;
  /** Logs in as `user`, runs IMAP commands (a string, or parts with literals), logs out. */
  imap(user: string): Promise<ImapTestClient>;
  /** IMAP APPEND of one letter; resolves to the APPENDUID the server gave it. */
  append(user: string, mailbox: string, letter: Buffer, date?: string): Promise<{ uidValidity: string; uid: number }>;
  stop(): Promise<void>;
};

/** A minimal IMAP client over a socket, for tests only: the connector under test is the one that uses imapflow. */
export type ImapTestClient = {
  /** Runs one tagged command; resolves to its untagged lines and the tagged OK line; rejects on NO or BAD. */
  run(command: string, literal?: Buffer): Promise<string[]>;
  close(): Promise<void>;
};

async function imapTestClient(port: number, user: string, password: string): Promise<ImapTestClient> {
  const socket = connect({ host: '127.0.0.1', port });
  let buffer = '';
  let waiter: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    waiter?.();
  });
  socket.on('error', () => waiter?.());
  const line = async (): Promise<string> => {
    for (;;) {
      const end = buffer.indexOf('\r\n');
      if (end >= 0) {
        const out = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        return out;
      }
      if (socket.destroyed) throw new Error('the IMAP test connection closed');
      await new Promise<void>((resolve) => (waiter = resolve));
      waiter = null;
    }
  };
  await line();
  let n = 0;
  const run = async (command: string, literal?: Buffer) => {
    const tag = `t${(n += 1)}`;
    // LITERAL+ ({n+}): the literal follows at once, no continuation to wait for (RFC 7888).
    socket.write(literal ? Buffer.concat([Buffer.from(`${tag} ${command} {${literal.length}+}\r\n`), literal, Buffer.from('\r\n')]) : `${tag} ${command}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const got = await line();
      lines.push(got);
      if (got.startsWith(`${tag} `)) {
        if (!got.startsWith(`${tag} OK`)) throw new Error(`IMAP ${command.split(' ')[0]} failed: ${got}`);
        return lines;
      }
    }
  };
  await run(`LOGIN "${user}" "${password}"`);
  return {
    run,
    async close() {
      await run('LOGOUT').catch(() => undefined);
      socket.destroy();
    },
  };
}

export class DovecotMissingError extends Error {
  constructor() {
    super('dovecot is not installed: the IMAP tests need a real server; install it with `apt-get install -y dovecot-imapd` (.ci/run does this)');
    this.name = 'DovecotMissingError';
  }
}

/** Runs a command that daemonizes: its output must not be a pipe, or the daemon would hold it open and we would wait for ever. */
function runDetached(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))));
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('* OK'));
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function idOf(flag: '-u' | '-g', name: string): number {
  const out = spawnSync('id', [flag, name], { encoding: 'utf8' });
  const n = Number(out.stdout.trim());
  if (out.status !== 0 || !Number.isInteger(n)) throw new Error(`user "${name}" is missing; the dovecot-core package creates it (apt-get install -y dovecot-imapd)`);
  return n;
}

/**
 * Starts Dovecot from a private config in a temp dir on a free loopback port, as written down in
 * shared/PROTOCOLS.md §8 (checked with Dovecot 2.3.19 from Debian). As root, imap-login refuses to
 * run as root and mail must not be owned by uid 0, hence the dovecot/dovenull users; as anyone else
 * every process runs as that user. Throws DovecotMissingError when dovecot is not installed: the
 * tests must fail then, not pass by skipping.
 */
export async function startDovecot(users: Record<string, string> = { alice: 'secret' }): Promise<Dovecot> {
  if (spawnSync('dovecot', ['--version']).error) throw new DovecotMissingError();
  const dir = await mkdtemp(join(tmpdir(), 'crm-hub-dovecot-'));
  await chmod(dir, 0o755);
  const asRoot = process.getuid?.() === 0;
  const me = userInfo().username;
  const mailUser = asRoot ? 'dovecot' : me;
  const port = await freePort();
  await mkdir(join(dir, 'mail'), { recursive: true });
  await mkdir(join(dir, 'run'), { recursive: true });
  await mkdir(join(dir, 'state'), { recursive: true });
  if (asRoot) await chown(join(dir, 'mail'), idOf('-u', 'dovecot'), idOf('-g', 'dovecot'));
  await writeFile(join(dir, 'users'), Object.entries(users).map(([u, p]) => `${u}:{PLAIN}${p}:::::\n`).join(''));
  const conf = `
protocols = imap
listen = 127.0.0.1
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = ${asRoot ? 'dovenull' : me}
default_internal_user = ${asRoot ? 'dovecot' : me}
default_internal_group = ${asRoot ? 'dovecot' : userInfo().username}
mail_uid = ${mailUser}
mail_gid = ${asRoot ? 'dovecot' : me}
first_valid_uid = 1
mail_location = maildir:${dir}/mail/%u/Maildir
passdb {
  driver = passwd-file
  args = ${dir}/users
}
userdb {
  driver = passwd-file
  args = ${dir}/users
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
`;
  const confPath = join(dir, 'dovecot.conf');
  await writeFile(confPath, conf);
  const doveadm = async (args: string[]) => (await run('doveadm', ['-c', confPath, ...args], { timeout: 10_000 })).stdout;
  const log = () => readFile(join(dir, 'dovecot.log'), 'utf8').catch(() => '');
  try {
    await runDetached('dovecot', ['-c', confPath]);
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (Date.now() > deadline) throw new Error(`dovecot did not accept connections on 127.0.0.1:${port} within 10 s; its log:\n${await log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await doveadm(['stop']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    dir,
    users,
    doveadm,
    log,
    imap: (user) => imapTestClient(port, user, users[user] ?? ''),
    async append(user, mailbox, letter, date) {
      const client = await imapTestClient(port, user, users[user] ?? '');
      try {
        const lines = await client.run(`APPEND "${mailbox}"${date ? ` "${date}"` : ''}`, letter);
        const uid = /\[APPENDUID (\d+) (\d+)\]/.exec(lines[lines.length - 1] ?? '');
        if (!uid) throw new Error(`no APPENDUID in ${lines.join(' / ')}`);
        return { uidValidity: uid[1]!, uid: Number(uid[2]) };
      } finally {
        await client.close();
      }
    },
    stop() {
      stopped ??= (async () => {
        await doveadm(['stop']).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Letters to APPEND: real MIME, as mail clients write it.

/** Bytes of a text in a single-byte charset (windows-1251, koi8-r), by inverting the WHATWG decoder. */
export function encode8bit(text: string, charset: 'windows-1251' | 'koi8-r'): Buffer {
  const decoder = new TextDecoder(charset);
  const table = new Map<string, number>();
  for (let b = 0; b < 256; b += 1) table.set(decoder.decode(Uint8Array.of(b)), b);
  return Buffer.from(
    [...text].map((ch) => {
      const byte = table.get(ch);
      if (byte === undefined) throw new Error(`"${ch}" has no ${charset} byte`);
      return byte;
    }),
  );
}

/** An RFC 2047 encoded word (B encoding). */
export function word(text: string, charset: 'UTF-8' | 'windows-1251' | 'koi8-r' = 'UTF-8'): string {
  const bytes = charset === 'UTF-8' ? Buffer.from(text, 'utf8') : encode8bit(text, charset);
  return `=?${charset}?B?${bytes.toString('base64')}?=`;
}

const crlf = (text: string) => Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8');
const b64 = (text: string) => (Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\n');

/** Sample letters; `tag` keeps Message-IDs unique per test. */
export const letters = {
  /** A customer's letter: multipart/mixed (alternative text + HTML, a PDF), Cyrillic name and subject (RFC 2047), a phone in the signature. */
  multipart(tag: string): Buffer {
    return crlf(`From: ${word('Иван Петров')} <ivan.petrov@customer.example>
To: Alice Smith <alice@acme.example>
Subject: ${word('Запрос счёта на поставку')}
Date: Mon, 12 Jan 2026 10:00:00 +0300
Message-ID: <m1-${tag}@customer.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

${b64('Добрый день!\nПришлите, пожалуйста, счёт на 20 коробок.\n\n-- \nИван Петров\nООО «Заказчик»\nтел. +7 (916) 123-45-67\n')}
--inner
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

${b64('<p>Добрый день!</p><p>Пришлите, пожалуйста, счёт на 20 коробок.</p><p>-- <br>Иван Петров<br>тел. +7 (916) 123-45-67</p>')}
--inner--
--outer
Content-Type: application/pdf; name="${word('реквизиты.pdf')}"
Content-Disposition: attachment; filename="${word('реквизиты.pdf')}"
Content-Transfer-Encoding: base64

${Buffer.alloc(1500, 7).toString('base64').match(/.{1,76}/g)?.join('\n')}
--outer--
`);
  },
  /** HTML only, with entities, a quoted earlier letter of ours (our number must not become hers) and her number in the signature. */
  htmlOnly(tag: string): Buffer {
    return crlf(`From: "Maria Garcia" <Maria.Garcia@Shop.Example>
To: sales@acme.example
Subject: Re: Wholesale prices
Date: Tue, 13 Jan 2026 09:30:00 +0000
Message-ID: <h1-${tag}@shop.example>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<html><head><style>p {margin:0}</style></head><body><p>Hello,</p><p>We&nbsp;would like 5&nbsp;pallets &amp; a=
 discount &laquo;as agreed&raquo;.</p><p>Maria Garcia<br>Buyer, Shop Ltd<br>Mobile: +34 612 345 678</p>=
<blockquote type=3D"cite"><p>Our prices attached.</p><p>Acme sales, +7 495 111-22-33</p></blockquote></body></html>
`);
  },
  /** A windows-1251 body with a KOI8-R subject and sender name, as old Russian clients send them. */
  windows1251(tag: string): Buffer {
    const head = crlf(`From: ${word('Олег Сидоров', 'koi8-r')} <oleg@zavod.example>
To: alice@acme.example
Subject: ${word('Счёт оплачен', 'koi8-r')}
Date: Wed, 14 Jan 2026 08:00:00 +0300
Message-ID: <w1-${tag}@zavod.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=windows-1251
Content-Transfer-Encoding: 8bit

`);
    return Buffer.concat([head, encode8bit('Здравствуйте!\r\nСчёт № 15 оплачен сегодня.\r\nОлег\r\n', 'windows-1251')]);
  },
  /** Not a letter anyone can be said to have written: no From, a boundary that never comes. */
  malformed(tag: string): Buffer {
    return crlf(`To: alice@acme.example
Subject: =?utf-8?B?!!!broken?=
Message-ID: <x1-${tag}@nowhere>
Content-Type: multipart/mixed; boundary="never-comes"

this is not MIME at all
`);
  },
  /** Our reply to the customer's letter (in Sent), with a colleague in Cc and our own signature. */
  ourReply(tag: string): Buffer {
    return crlf(`From: Alice Smith <alice@acme.example>
To: ${word('Иван Петров')} <ivan.petrov@customer.example>
Cc: boss@acme.example
Subject: Re: ${word('Запрос счёта на поставку')}
Date: Mon, 12 Jan 2026 11:00:00 +0300
Message-ID: <r1-${tag}@acme.example>
In-Reply-To: <m1-${tag}@customer.example>
References: <m1-${tag}@customer.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Счёт во вложении.

--
Alice Smith, Acme
+7 495 111-22-33
`);
  },
  /** The customer answers our reply: a thread of three, with our letter quoted below. */
  customerReply(tag: string): Buffer {
    return crlf(`From: ${word('Иван Петров')} <ivan.petrov@customer.example>
To: Alice Smith <alice@acme.example>
Subject: Re: Re: ${word('Запрос счёта на поставку')}
Date: Mon, 12 Jan 2026 12:00:00 +0300
Message-ID: <m2-${tag}@customer.example>
In-Reply-To: <r1-${tag}@acme.example>
References: <m1-${tag}@customer.example> <r1-${tag}@acme.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Спасибо, оплатим завтра.

On Mon, 12 Jan 2026 at 11:00, Alice Smith <alice@acme.example> wrote:
> Счёт во вложении.
> --
> Alice Smith, Acme
> +7 495 111-22-33
`);
  },
  /** An outbound letter to two customers; a copy of it is in INBOX too (we Bcc ourselves). */
  toTwo(tag: string): Buffer {
    return crlf(`From: alice@acme.example
To: Sergey Volkov <sergey@client.example>
Cc: "Olga" <olga@client.example>, bob@acme.example
Subject: Meeting on Friday
Date: Thu, 15 Jan 2026 16:00:00 +0000
Message-ID: <t2-${tag}@acme.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

See you on Friday at 10.
`);
  },
  /** A short plain letter from one customer; `n` tells them apart. */
  plain(tag: string, n: number, from = `customer${n}@example.org`): Buffer {
    return crlf(`From: Customer ${n} <${from}>
To: alice@acme.example
Subject: Letter ${n}
Date: Fri, 16 Jan 2026 10:${String(n % 60).padStart(2, '0')}:00 +0000
Message-ID: <p${n}-${tag}@example.org>
Content-Type: text/plain; charset=utf-8

Letter number ${n}.
`);
  },
};
