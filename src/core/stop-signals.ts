/** The signals that stop the hub gracefully. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

export type StopSignalOptions = {
  /** The same signal again within this time is the same stop. */
  repeatMs: number;
  /** The first stop signal. */
  stop(signal: StopSignal): void;
  /** A second stop: another stop signal, or the same one after `repeatMs`. */
  exitNow(signal: StopSignal): void;
};

/**
 * Listens for SIGINT and SIGTERM. A repeat of the first signal within `repeatMs` is ignored rather
 * than taken as a second stop that ends the process at once: under `npm start`, Ctrl-C reaches the
 * hub from the terminal and again from npm, which passes on what it gets (as does a supervisor that
 * signals every process of its unit).
 */
export function watchStopSignals(options: StopSignalOptions) {
  let first: { signal: NodeJS.Signals | undefined; at: number } | undefined;
  const listeners = STOP_SIGNALS.map((signal) => {
    const listener = () => {
      if (!first) {
        first = { signal, at: Date.now() };
        options.stop(signal);
      } else if (signal !== first.signal || Date.now() - first.at > options.repeatMs) {
        options.exitNow(signal);
      }
    };
    process.on(signal, listener);
    return { signal, listener };
  });
  return {
    /**
     * Notes a stop, which may have begun otherwise (an error, another signal): any stop signal
     * after it is a second one. Returns the stop signal that began it, if one did.
     */
    began(signal?: NodeJS.Signals): NodeJS.Signals | undefined {
      first ??= { signal, at: Date.now() };
      return first.signal;
    },
    uninstall() {
      for (const { signal, listener } of listeners) process.removeListener(signal, listener);
    },
  };
}
