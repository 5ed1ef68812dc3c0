import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type Received = { path: string; headers: IncomingHttpHeaders; body: string; at: number; answered: number };

/** A real HTTP endpoint that records every webhook it gets and answers what `answer` says (default 200). */
export type Subscriber = {
  url(path?: string): string;
  received: Received[];
  answer: (request: Received) => number;
  /** The verified payloads that got a 2xx, in arrival order; throws if one has a bad signature. */
  delivered(secret: string, path?: string): { id: string; type: string; timestamp: string; data: Record<string, unknown> }[];
  close(): Promise<void>;
};

export async function startSubscriber(): Promise<Subscriber> {
  const subscriber: Subscriber = {
    url: (path = '/hook') => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    received: [],
    answer: () => 200,
    delivered(secret, path = '/hook') {
      const webhook = new Webhook(secret);
      return subscriber.received
        .filter((r) => r.path === path && r.answered >= 200 && r.answered < 300)
        .map((r) => {
          const payload = webhook.verify(r.body, r.headers as Record<string, string>) as { type: string; timestamp: string; data: Record<string, unknown> };
          return { id: String(r.headers['webhook-id']), ...payload };
        });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: Received = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), answered: 0 };
      request.answered = subscriber.answer(request);
      subscriber.received.push(request);
      res.writeHead(request.answered, { 'content-type': 'text/plain; charset=utf-8' }).end(request.answered < 300 ? 'ok' : `нет, не сейчас (${request.answered})`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return subscriber;
}
