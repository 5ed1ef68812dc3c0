import { afterEach, describe, expect, it, vi } from 'vitest';
import { watchStopSignals } from '../../src/core/stop-signals.js';

// process.emit runs the listeners as a real signal would, without delivering one to the test runner.
describe('watchStopSignals', () => {
  const watchers: ReturnType<typeof watchStopSignals>[] = [];
  afterEach(() => {
    watchers.splice(0).forEach((w) => w.uninstall());
    vi.useRealTimers();
  });

  function watch() {
    const calls = { stop: [] as string[], exitNow: [] as string[] };
    const watcher = watchStopSignals({ repeatMs: 1000, stop: (s) => calls.stop.push(s), exitNow: (s) => calls.exitNow.push(s) });
    watchers.push(watcher);
    return { calls, watcher };
  }

  it('stops on the first signal and takes the same signal again within repeatMs for the same stop (Ctrl-C under npm start)', () => {
    vi.useFakeTimers();
    const { calls, watcher } = watch();
    process.emit('SIGINT');
    vi.advanceTimersByTime(999);
    process.emit('SIGINT');
    expect(calls).toEqual({ stop: ['SIGINT'], exitNow: [] });
    expect(watcher.began()).toBe('SIGINT');
  });

  it('exits at once on the same signal after repeatMs, or on the other stop signal', () => {
    vi.useFakeTimers();
    const late = watch();
    process.emit('SIGTERM');
    vi.advanceTimersByTime(1001);
    process.emit('SIGTERM');
    expect(late.calls).toEqual({ stop: ['SIGTERM'], exitNow: ['SIGTERM'] });
    late.watcher.uninstall();

    const other = watch();
    process.emit('SIGTERM');
    process.emit('SIGINT');
    expect(other.calls).toEqual({ stop: ['SIGTERM'], exitNow: ['SIGINT'] });
  });

  it('after a stop that began otherwise (an error, SIGHUP), any stop signal is a second one', () => {
    const { calls, watcher } = watch();
    expect(watcher.began('SIGHUP')).toBe('SIGHUP');
    process.emit('SIGTERM');
    expect(calls).toEqual({ stop: [], exitNow: ['SIGTERM'] });
  });
});
