// Small statistics and formatting helpers for the benchmark.

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Percentile (0..100) of weighted samples: each sample counts `weight` times. */
export function weightedPercentile(samples: readonly { value: number; weight: number }[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a.value - b.value);
  const total = sorted.reduce((s, x) => s + x.weight, 0);
  const rank = (p / 100) * total;
  let seen = 0;
  for (const s of sorted) {
    seen += s.weight;
    if (seen >= rank) return s.value;
  }
  return (sorted[sorted.length - 1] as { value: number }).value;
}

export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtRatio(value: number | null): string {
  return value === null || !Number.isFinite(value) ? '' : `${value.toFixed(2)}×`;
}

export function mb(bytes: number): number {
  return bytes / 1024 / 1024;
}

/** A plain-text table with columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' │ ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('─┼─'), ...rows.map(line)].join('\n');
}
