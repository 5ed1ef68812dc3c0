import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, waitFor, type TestHub } from '../support/hub.js';

// Debian's chromium (.ci/run installs it); playwright-core drives it and downloads nothing.
const CHROMIUM = '/usr/bin/chromium';
// The machine has no internet: nothing in the background may try to reach out.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

type OwnPost = { path: string; fields: URLSearchParams };

/**
 * A site with its own forms, posting to itself, on another port than the hub: the snippet is pasted
 * under one form, and named by a CSS selector from the head for the other.
 */
function sitePages(hubUrl: string): Record<string, string> {
  const head = '<!doctype html><html><head><meta charset="utf-8"><title>Site</title>';
  return {
    '/': `${head}</head><body>
      <form id="contact" action="/submit" method="post">
        <input name="name"><input name="email" type="email"><input name="phone">
        <textarea name="message"></textarea>
        <label><input type="checkbox" name="agree" value="on"> Согласен на обработку персональных данных</label>
        <button type="submit">Отправить</button>
      </form>
      <script src="${hubUrl}/v1/forms/site-contact/embed.js"></script>
    </body></html>`,
    // Posts into an iframe, so the page stays to show what the browser said about the hub's answer.
    '/framed': `${head}</head><body>
      <iframe name="sink" title="sink"></iframe>
      <form id="framed" action="/submit-framed" method="post" target="sink"><input name="name"><input name="email"><button type="submit">Send</button></form>
      <script src="${hubUrl}/v1/forms/site-contact/embed.js"></script>
    </body></html>`,
    '/order': `${head}<script defer data-form="#order" src="${hubUrl}/v1/forms/site-contact/embed.js"></script></head><body>
      <p>Order</p>
      <iframe name="sink" title="sink"></iframe>
      <form id="order" action="/submit-order" method="post" target="sink"><input name="name"><input name="phone"><input name="website"><button type="submit">Заказать</button></form>
    </body></html>`,
  };
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

describe('embed.js in headless Chromium', { timeout: 20_000 }, () => {
  let hub: TestHub;
  let site: Server;
  let siteUrl: string;
  let context: BrowserContext;
  let profileDir: string;
  const ownPosts: OwnPost[] = [];
  let pages: Record<string, string> = {};

  beforeAll(async () => {
    site = createServer((request, response) => {
      void (async () => {
        const path = (request.url ?? '/').split('?')[0] ?? '/';
        if (request.method === 'POST') {
          ownPosts.push({ path, fields: new URLSearchParams(await readBody(request)) });
          response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><p>Спасибо!</p>');
          return;
        }
        const page = pages[path];
        if (path === '/favicon.ico') response.writeHead(204).end();
        else if (page === undefined) response.writeHead(404).end();
        else response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
      })();
    });
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;

    hub = await startTestHub({
      store: 'postgres',
      config: {
        forms: [
          {
            id: 'site-contact',
            fields: { name: 'fullName', email: 'email', phone: 'phone', message: 'body' },
            honeypot: 'website',
            corsOrigins: [siteUrl],
            consent: { field: 'agree', policy: `${siteUrl}/privacy` },
          },
        ],
      },
    });
    await hub.app!.listen({ port: 0, host: '127.0.0.1' });
    const hubUrl = `http://127.0.0.1:${(hub.app!.server.address() as AddressInfo).port}`;
    pages = sitePages(hubUrl);

    profileDir = mkdtempSync(join(tmpdir(), 'crm-hub-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  }, 30_000);

  afterAll(async () => {
    await context?.close();
    await hub?.close();
    await new Promise((resolve) => site?.close(resolve));
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  async function profileByEmail(email: string) {
    const found = (await hub.request('GET', `/v1/profiles?email=${encodeURIComponent(email)}`)).json().data as { id: string; traits: Record<string, unknown> }[];
    return found[0];
  }

  it('copies a submitted form to the hub while the page’s own submit still goes through', async () => {
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(`${siteUrl}/`);
    // The honeypot the form config names was added, and a person does not see it.
    const trap = page.locator('#contact input[name="website"]');
    await expect.poll(() => trap.count()).toBe(1);
    expect(await trap.isVisible()).toBe(false);

    await page.fill('input[name="name"]', 'Алексей Смирнов');
    await page.fill('input[name="email"]', 'alexey.smirnov@example.ru');
    await page.fill('input[name="phone"]', '+7 916 700-00-01');
    await page.fill('textarea[name="message"]', 'Нужна консультация по внедрению');
    await page.check('input[name="agree"]');
    await Promise.all([page.waitForURL(`${siteUrl}/submit`), page.click('button[type="submit"]')]);
    expect(await page.textContent('p')).toBe('Спасибо!');

    // The site's own handler got its post, as it would without the snippet (plus the empty honeypot).
    expect(ownPosts).toHaveLength(1);
    expect(ownPosts[0]!.path).toBe('/submit');
    expect(Object.fromEntries(ownPosts[0]!.fields)).toEqual({
      name: 'Алексей Смирнов',
      email: 'alexey.smirnov@example.ru',
      phone: '+7 916 700-00-01',
      message: 'Нужна консультация по внедрению',
      agree: 'on',
      website: '',
    });

    await waitFor(async () => (await profileByEmail('alexey.smirnov@example.ru')) !== undefined, 15_000);
    await hub.drained();
    const profile = (await profileByEmail('alexey.smirnov@example.ru'))!;
    expect(profile.traits).toMatchObject({ fullName: 'Алексей Смирнов', personalDataConsent: { granted: true, source: 'web-form', formId: 'site-contact', field: 'agree' } });
    const timeline = (await hub.request('GET', `/v1/profiles/${profile.id}/timeline`)).json().data as Record<string, unknown>[];
    expect(timeline).toHaveLength(1);
    expect(timeline[0]).toMatchObject({ source: 'web-form', channel: 'form', direction: 'inbound', body: 'Нужна консультация по внедрению' });
    // The snippet sent an Idempotency-Key: the submission id is the browser's UUID.
    expect(timeline[0]!['sourceId']).toMatch(/^site-contact\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('sends nothing from an origin the form does not allow (CORS per form), and the site’s own submit still works', async () => {
    const page = await context.newPage();
    const blocked = new Promise<string>((resolve) => {
      page.on('console', (m) => {
        if (/CORS/i.test(m.text())) resolve(m.text());
      });
    });
    // Same server, other origin: localhost is not 127.0.0.1 to a browser.
    const otherOrigin = siteUrl.replace('127.0.0.1', 'localhost');
    await page.goto(`${otherOrigin}/framed`);
    await expect.poll(() => page.getAttribute('#framed', 'data-crm-hub')).toBe('on');
    const before = await hub.store.counts();
    await page.fill('#framed input[name="name"]', 'Чужой сайт');
    await page.fill('#framed input[name="email"]', 'other.origin@example.ru');
    await page.click('#framed button');
    expect(await blocked).toContain('blocked by CORS policy');
    await expect.poll(() => ownPosts.at(-1)?.path).toBe('/submit-framed');
    await hub.drained();
    expect(await hub.store.counts()).toEqual(before);
    expect(await profileByEmail('other.origin@example.ru')).toBeUndefined();
    await page.close();
  });

  it('finds the form by data-form from the head, and drops a submission whose honeypot a bot filled', async () => {
    const page = await context.newPage();
    await page.goto(`${siteUrl}/order`);
    await expect.poll(() => page.getAttribute('#order', 'data-crm-hub')).toBe('on');
    // The form has its own field of the honeypot's name: the snippet adds no second one.
    expect(await page.locator('#order input[name="website"]').count()).toBe(1);
    const hubAnswer = () => page.waitForResponse((r) => r.url().endsWith('/v1/forms/site-contact') && r.request().method() === 'POST');

    const before = await hub.store.counts();
    await page.fill('#order input[name="name"]', 'Bot');
    await page.fill('#order input[name="phone"]', '+7 916 700-00-02');
    await page.fill('#order input[name="website"]', 'http://spam.example');
    const [bot] = await Promise.all([hubAnswer(), page.click('#order button')]);
    // A bot gets the answer a person gets.
    expect(bot.status()).toBe(202);
    await expect.poll(() => ownPosts.at(-1)?.fields.get('name')).toBe('Bot');

    await page.fill('#order input[name="name"]', 'Ирина');
    await page.fill('#order input[name="phone"]', '+7 916 700-00-03');
    await page.fill('#order input[name="website"]', '');
    const [person] = await Promise.all([hubAnswer(), page.click('#order button')]);
    expect(person.status()).toBe(202);
    await expect.poll(() => ownPosts.at(-1)?.fields.get('name')).toBe('Ирина');

    await hub.drained();
    expect(((await hub.request('GET', '/v1/profiles?phone=%2B79167000003')).json().data as unknown[]).length).toBe(1);
    expect((await hub.request('GET', '/v1/profiles?phone=%2B79167000002')).json().data).toEqual([]);
    expect((await hub.store.counts()).records - before.records).toBe(1);
    await page.close();
  });
});
