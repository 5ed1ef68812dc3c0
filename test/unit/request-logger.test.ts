import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { requestLogger } from '../../src/core/api/request-logger.js';

/** A hub logger at `level` and the JSON lines it writes. */
function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level, destination }), lines };
}

describe('request logger', () => {
  it('writes the request id on every line, with the hub redaction, and levels as the parent', () => {
    const { log, lines } = capture('info');
    const child = requestLogger(log, { reqId: 'req-7' }, {});
    child.debug('not at info');
    child.info({ headers: { authorization: 'Bearer secret-key' } }, 'incoming');
    child.child({ step: 'inner' }).warn('nested');
    expect(lines).toEqual([
      expect.objectContaining({ reqId: 'req-7', msg: 'incoming', headers: { authorization: '[redacted]' } }),
      expect.objectContaining({ reqId: 'req-7', step: 'inner', msg: 'nested' }),
    ]);
    expect(child.level).toBe('info');
  });

  it('makes no pino child for a request that logs nothing at the level', () => {
    const { log, lines } = capture('warn');
    let children = 0;
    const counting = Object.assign(Object.create(log) as typeof log, {
      child(...args: Parameters<typeof log.child>) {
        children += 1;
        return log.child(...args);
      },
    });
    const quiet = requestLogger(counting, { reqId: 'req-1' }, {});
    quiet.info('incoming request');
    quiet.debug('details');
    expect(children).toBe(0);
    quiet.error('failed');
    expect(children).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ reqId: 'req-1', level: 50, msg: 'failed' })]);
  });

  it('gives a route with its own log level a pino child at once', async () => {
    const { log, lines } = capture('warn');
    const app = Fastify({ loggerInstance: log, childLoggerFactory: requestLogger });
    app.get('/chatty', { logLevel: 'info' }, async (request) => {
      request.log.info('route line');
      return { ok: true };
    });
    await app.inject({ method: 'GET', url: '/chatty' });
    await app.close();
    expect(lines).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'route line', reqId: expect.any(String) })]));
  });
});
