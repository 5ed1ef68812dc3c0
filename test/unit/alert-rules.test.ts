import { describe, expect, it } from 'vitest';
import { alertsForEvents, evaluateInteraction } from '../../src/core/events/alerts.js';
import type { AlertRuleConfig } from '../../src/core/config/config.schema.js';

const interaction = (data: Record<string, unknown>) => ({ profileId: 'p1', data: { source: 'crm', sourceId: 'x-1', occurredAt: '2026-11-27T10:00:00Z', ...data } });

describe('complaint rule', () => {
  const rule: AlertRuleConfig = { name: 'complaint', kind: 'complaint', statuses: ['Complaint'], keywords: ['жалоба', 'refund'] };

  it('fires on a configured status, case-insensitive', () => {
    const alert = evaluateInteraction(rule, interaction({ channel: 'ticket', status: 'COMPLAINT' }));
    expect(alert).toMatchObject({ rule: 'complaint', key: 'crm:x-1', profileId: 'p1' });
    expect(alert?.reason).toContain('status');
  });

  it('fires on a Cyrillic keyword in any case, in subject or body, ё as е', () => {
    expect(evaluateInteraction(rule, interaction({ channel: 'feedback', subject: 'ЖАЛОБА на доставку' }))?.reason).toContain('subject contains "жалоба"');
    expect(evaluateInteraction(rule, interaction({ channel: 'ticket', body: 'Хочу Refund, пожалуйста' }))?.reason).toContain('body contains "refund"');
    const yo: AlertRuleConfig = { name: 'c', kind: 'complaint', keywords: ['ещё раз'] };
    expect(evaluateInteraction(yo, interaction({ channel: 'ticket', body: 'ЕЩЕ РАЗ не привезли' }))).not.toBeNull();
  });

  it('does not fire on other channels or on text without a keyword', () => {
    expect(evaluateInteraction(rule, interaction({ channel: 'email', subject: 'жалоба' }))).toBeNull();
    expect(evaluateInteraction(rule, interaction({ channel: 'ticket', subject: 'Спасибо', status: 'open' }))).toBeNull();
  });
});

describe('largeOrder rule', () => {
  const rule: AlertRuleConfig = { name: 'big', kind: 'largeOrder', amount: 100000, currency: 'RUB' };

  it('fires above the threshold in the configured currency', () => {
    expect(evaluateInteraction(rule, interaction({ channel: 'order', amount: 150000, currency: 'rub' }))).toMatchObject({ rule: 'big', data: { amount: 150000 } });
    expect(evaluateInteraction(rule, interaction({ channel: 'invoice', amount: 100000.01, currency: 'RUB' }))).not.toBeNull();
  });

  it('does not fire at or below it, in another currency, without an amount or on another channel', () => {
    expect(evaluateInteraction(rule, interaction({ channel: 'order', amount: 100000, currency: 'RUB' }))).toBeNull();
    expect(evaluateInteraction(rule, interaction({ channel: 'order', amount: 500000, currency: 'USD' }))).toBeNull();
    expect(evaluateInteraction(rule, interaction({ channel: 'order', currency: 'RUB' }))).toBeNull();
    expect(evaluateInteraction(rule, interaction({ channel: 'call', amount: 500000, currency: 'RUB' }))).toBeNull();
  });

  it('without a currency takes any', () => {
    expect(evaluateInteraction({ name: 'any', kind: 'largeOrder', amount: 10 }, interaction({ channel: 'payment', amount: 11 }))).not.toBeNull();
  });
});

describe('event-driven alerts for a batch', () => {
  it('looks only at interaction.created and leaves scheduled rules out', () => {
    const rules: AlertRuleConfig[] = [
      { name: 'big', kind: 'largeOrder', amount: 10 },
      { name: 'quiet', kind: 'inactive', days: 30 },
    ];
    const found = alertsForEvents(rules, [
      { type: 'interaction.created', ...interaction({ channel: 'order', amount: 20 }) },
      { type: 'profile.updated', profileId: 'p1', data: { channel: 'order', amount: 20 } },
    ]);
    expect(found.map((a) => a.rule)).toEqual(['big']);
  });
});
