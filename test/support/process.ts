import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: the hub runs from here, as `npm start` does. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type Exit = { code: number | null; signal: NodeJS.Signals | null };
export type LogLine = Record<string, unknown> & { level: number; msg: string };

export type HubProcess = {
  readonly pid: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<Exit>;
  /** stdout as pino JSON lines; a line that is not JSON fails the test that asks. */
  logs(): LogLine[];
  /** The first log line whose msg matches; rejects if the process exits or the time runs out first. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<LogLine>;
  waitForExit(timeoutMs?: number): Promise<Exit & { ms: number }>;
  /** SIGTERM, then waits for the exit and says how long it took. */
  stop(timeoutMs?: number): Promise<Exit & { ms: number }>;
  /**
   * SIGKILLs the hub's process group, running or not (a hub that died can leave its private
   * redis-server behind in its group), and waits for the hub to be gone.
   */
  kill(): Promise<void>;
};

export type SpawnOptions = {
  /** Added to a minimal environment (PATH, HOME): nothing of the test runner's own leaks in. */
  env?: Record<string, string>;
  args?: string[];
  /** Through `npm start` (npm found on PATH) rather than node itself: what a user or a supervisor may run. */
  npm?: boolean;
};

/**
 * Runs `node --import tsx src/main.ts` (what `npm start` runs) in its own process group, so that
 * cleanup also reaches what the hub spawned (its private redis-server). Node is started by its
 * absolute path: the tests may set PATH to a directory without it.
 */
export function spawnHub(options: SpawnOptions = {}): HubProcess {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/tmp', ...options.env };
  const args = options.args ?? [];
  const [command, commandArgs] = options.npm ? ['npm', ['start', '--silent', '--', ...args]] : [process.execPath, ['--import', 'tsx', 'src/main.ts', ...args]];
  const child = spawn(command, commandArgs, {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    notify();
  });
  // 'close' (not 'exit'): by then stdout and stderr have been read to the end.
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      resolve({ code, signal });
      notify();
    });
    child.once('error', () => {
      resolve({ code: null, signal: null });
    });
  });
  let exit: Exit | undefined;
  void exited.then((e) => (exit = e));

  function logs(): LogLine[] {
    return stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        try {
          return JSON.parse(l) as LogLine;
        } catch {
          throw new Error(`not a JSON log line on stdout: ${l}`);
        }
      });
  }

  const describe = () => `\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`;

  function waitForLog(msg: string | RegExp, timeoutMs = 90_000): Promise<LogLine> {
    const matches = (line: LogLine) => (typeof msg === 'string' ? line.msg === msg : msg.test(line.msg));
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => {
            try {
              return JSON.parse(l) as LogLine;
            } catch {
              return null; // a line still being written
            }
          })
          .find((l): l is LogLine => l !== null && matches(l));
        if (found) return done(() => resolve(found));
        if (exit) return done(() => reject(new Error(`the hub exited (${JSON.stringify(exit)}) before logging ${String(msg)}${describe()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no log line ${String(msg)} within ${timeoutMs} ms${describe()}`))), timeoutMs);
      const done = (fn: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        fn();
      };
      waiters.add(check);
      check();
    });
  }

  async function waitForExit(timeoutMs = 30_000): Promise<Exit & { ms: number }> {
    const start = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the hub did not exit within ${timeoutMs} ms${describe()}`)), timeoutMs);
    });
    try {
      const e = await Promise.race([exited, timeout]);
      return { ...e, ms: Date.now() - start };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    pid: child.pid ?? -1,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    logs,
    waitForLog,
    waitForExit,
    async stop(timeoutMs = 15_000) {
      if (!exit) child.kill('SIGTERM');
      return waitForExit(timeoutMs);
    },
    async kill() {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
      await exited;
    },
  };
}

/**
 * Waits for a hub to exit on its own (the runs that must refuse to start). A start that fails on its
 * last step (the port) first migrates and connects everything; with every test file running at once
 * on 2 cores that took over 30 s in CI. The test itself has 60 s.
 */
export async function outcome(hub: HubProcess, timeoutMs = 55_000): Promise<Exit & { ms: number; stdout: string; stderr: string }> {
  const exit = await hub.waitForExit(timeoutMs);
  return { ...exit, stdout: hub.stdout, stderr: hub.stderr };
}

export { freePort } from '../../src/core/redis.js';
