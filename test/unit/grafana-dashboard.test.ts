import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics, PLANNED_GAUGES } from '../../src/core/metrics/metrics.js';

type Target = { expr: string; datasource: { uid: string } };
type Panel = { title: string; datasource: { uid: string }; targets: Target[] };
type Dashboard = { panels: Panel[]; templating: { list: { name: string; type: string; query: unknown }[] } };

const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana/crm-hub.json', import.meta.url), 'utf8')) as Dashboard;

// A histogram is exposed as <name>_bucket, _sum and _count.
const SERIES_SUFFIX = /_(bucket|sum|count)$/;
// Identifiers in PromQL that are not metric names.
const PROMQL_WORDS = new Set(['sum', 'max', 'min', 'by', 'rate', 'increase', 'histogram_quantile', 'le', 'label_values', 'instance', 'source', 'queue', 'state', 'status', 'connector', 'route', 'status_code']);

function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""').replace(/\[[^\]]*\]/g, '');
  return [...withoutStrings.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w) && !/^\d/.test(w));
}

describe('the Grafana dashboard (docs/grafana/crm-hub.json)', () => {
  it('uses a Prometheus datasource variable in every panel and target', () => {
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable).toMatchObject({ name: 'datasource', query: 'prometheus' });
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
    for (const panel of dashboard.panels) {
      expect(panel.datasource.uid, panel.title).toBe('${datasource}');
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets) expect(target.datasource.uid, panel.title).toBe('${datasource}');
    }
  });

  it('charts only metrics the hub registry has (and the planned gauges, under their declared names)', async () => {
    const metrics = createMetrics();
    for (const g of Object.values(PLANNED_GAUGES)) metrics.addGauge(g.name, g.help, g.labelNames, () => []);
    const registered = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name));
    const used = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr))));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) {
      const base = registered.has(name) ? name : name.replace(SERIES_SUFFIX, '');
      expect(registered.has(base), `${name} is not in the registry`).toBe(true);
    }
    for (const g of Object.values(PLANNED_GAUGES)) expect(used.has(g.name), g.name).toBe(true);
  });
});
