// Deterministic test data for the benchmark: people with Cyrillic names, emails and phones written
// in the many ways source systems write them, about 2.5 records per person, a third of them
// interactions. The same person k has the same canonical email and phone here and in the SQL seed
// (seed.ts), so records generated for a seeded person link to its profile.
import { createHash } from 'node:crypto';
import type { HubRecord } from '../src/core/record.schema.js';

/** [Cyrillic, Latin] */
export const FIRST_NAMES: readonly (readonly [string, string])[] = [
  ['Иван', 'ivan'],
  ['Пётр', 'petr'],
  ['Анна', 'anna'],
  ['Мария', 'maria'],
  ['Алексей', 'aleksey'],
  ['Ольга', 'olga'],
  ['Дмитрий', 'dmitry'],
  ['Елена', 'elena'],
  ['Сергей', 'sergey'],
  ['Наталья', 'natalya'],
  ['Андрей', 'andrey'],
  ['Татьяна', 'tatyana'],
  ['Михаил', 'mikhail'],
  ['Ирина', 'irina'],
  ['Николай', 'nikolay'],
  ['Светлана', 'svetlana'],
];
export const LAST_NAMES: readonly (readonly [string, string])[] = [
  ['Петров', 'petrov'],
  ['Иванов', 'ivanov'],
  ['Смирнов', 'smirnov'],
  ['Кузнецов', 'kuznetsov'],
  ['Попов', 'popov'],
  ['Васильев', 'vasiliev'],
  ['Соколов', 'sokolov'],
  ['Михайлов', 'mikhailov'],
  ['Новиков', 'novikov'],
  ['Фёдоров', 'fedorov'],
  ['Морозов', 'morozov'],
  ['Волков', 'volkov'],
  ['Алексеев', 'alekseev'],
  ['Лебедев', 'lebedev'],
  ['Семёнов', 'semenov'],
  ['Егоров', 'egorov'],
  ['Павлов', 'pavlov'],
  ['Козлов', 'kozlov'],
  ['Степанов', 'stepanov'],
  ['Николаев', 'nikolaev'],
];
export const DOMAINS: readonly string[] = ['mail.ru', 'yandex.ru', 'gmail.com', 'example.com', 'bk.ru', 'inbox.ru', 'rambler.ru'];
export const CITIES: readonly string[] = ['Москва', 'Санкт-Петербург', 'Казань', 'Новосибирск', 'Екатеринбург', 'Самара', 'Пермь'];
const COMPANIES: readonly string[] = ['ООО «Ромашка»', 'АО «Вектор»', 'ИП Сидоров', 'ООО «Северный ветер»', 'ПАО «Техностиль»'];
const JOB_TITLES: readonly string[] = ['менеджер', 'бухгалтер', 'директор', 'инженер', 'юрист'];
const SUBJECTS: readonly string[] = ['Вопрос по заказу', 'Счёт на оплату', 'Договор', 'Доставка', 'Возврат товара'];

/** Multiplier of the phone bijection (prime, coprime with 10^9). */
export const PHONE_MULTIPLIER = 7919;
export const PHONE_OFFSET = 12345;

export type Person = { k: number; first: string; last: string; firstLat: string; lastLat: string; email: string; phoneDigits: string; city: string };

function at<T>(list: readonly T[], i: number): T {
  const value = list[i % list.length];
  if (value === undefined) throw new Error('empty list');
  return value;
}

/** Person k: names, canonical email and the 9 digits after "+79" of their mobile phone. */
export function person(k: number): Person {
  const [first, firstLat] = at(FIRST_NAMES, k);
  const [last, lastLat] = at(LAST_NAMES, Math.floor(k / FIRST_NAMES.length));
  const phoneDigits = String((k * PHONE_MULTIPLIER + PHONE_OFFSET) % 1_000_000_000).padStart(9, '0');
  return { k, first, last, firstLat, lastLat, email: `${firstLat}.${lastLat}.${k}@${at(DOMAINS, k)}`, phoneDigits, city: at(CITIES, k) };
}

/** The profile id the SQL seed gives person k: md5('bench-p-' || k)::uuid. */
export function seededProfileId(k: number): string {
  const h = createHash('md5').update(`bench-p-${k}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** mulberry32: a small seeded PRNG, so every run sends the same data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function emailVariant(p: Person, rand: () => number): string {
  const e = p.email;
  switch (Math.floor(rand() * 5)) {
    case 0:
      return e;
    case 1:
      return `  ${e} `;
    case 2:
      return e.toUpperCase();
    case 3:
      return `${p.firstLat[0]?.toUpperCase() ?? ''}${e.slice(1, e.indexOf('@'))}@${e.slice(e.indexOf('@') + 1).toUpperCase()}`;
    default:
      return `mailto:${e}`;
  }
}

function phoneVariant(p: Person, rand: () => number): string {
  const d = p.phoneDigits; // +7 9dd ddd dd dd
  const [a, b, c, e] = [d.slice(0, 2), d.slice(2, 5), d.slice(5, 7), d.slice(7, 9)];
  switch (Math.floor(rand() * 5)) {
    case 0:
      return `+79${d}`;
    case 1:
      return `8 (9${a}) ${b}-${c}-${e}`;
    case 2:
      return `+7 9${a} ${b}-${c}-${e}`;
    case 3:
      return `8-9${a}-${b}-${c}-${e}`;
    default:
      return `89${d}`;
  }
}

const BASE_TIME = Date.parse('2024-01-01T00:00:00Z');

function occurredAt(rand: () => number): string {
  return new Date(BASE_TIME + Math.floor(rand() * 365 * 86_400_000)).toISOString();
}

/** The records of one person: 1 to 4 (2.5 on average), each an interaction with probability 1/3. */
function personRecords(p: Person, ordinal: number, tag: string, rand: () => number): HubRecord[] {
  const count = 1 + Math.floor(rand() * 4);
  const out: HubRecord[] = [];
  for (let j = 0; j < count; j += 1) {
    // The person's ordinal in this dataset, not k: one person may be drawn twice.
    const sourceId = `${tag}-${ordinal}-${j}`;
    if (rand() < 1 / 3) {
      const pick = rand();
      if (pick < 0.4) {
        out.push({
          source: 'telephony',
          sourceId,
          kind: 'interaction',
          occurredAt: occurredAt(rand),
          identifiers: { phones: [phoneVariant(p, rand)] },
          interaction: { channel: 'call', direction: rand() < 0.5 ? 'inbound' : 'outbound', durationSec: Math.floor(rand() * 600), status: 'answered' },
        });
      } else if (pick < 0.7) {
        out.push({
          source: 'mail',
          sourceId,
          kind: 'interaction',
          occurredAt: occurredAt(rand),
          identifiers: { emails: [emailVariant(p, rand)] },
          interaction: { channel: 'email', direction: 'inbound', subject: at(SUBJECTS, Math.floor(rand() * 100)), body: `Здравствуйте! Пишет ${p.first} ${p.last}.` },
        });
      } else {
        out.push({
          source: 'shop',
          sourceId,
          kind: 'interaction',
          occurredAt: occurredAt(rand),
          identifiers: rand() < 0.5 ? { emails: [emailVariant(p, rand)] } : { phones: [phoneVariant(p, rand)] },
          interaction: { channel: 'order', amount: Math.round(rand() * 5_000_000) / 100, currency: 'RUB', status: 'paid' },
        });
      }
      continue;
    }
    const source = at(['erp', 'site', 'crm'], Math.floor(rand() * 3));
    const shape = rand();
    const identifiers: NonNullable<HubRecord['identifiers']> =
      shape < 0.5 ? { emails: [emailVariant(p, rand)], phones: [phoneVariant(p, rand)] } : shape < 0.75 ? { emails: [emailVariant(p, rand)] } : { phones: [phoneVariant(p, rand)] };
    const traits: Record<string, unknown> = { firstName: p.first, lastName: p.last };
    if (rand() < 0.5) traits['city'] = p.city;
    if (source === 'erp') {
      traits['company'] = at(COMPANIES, p.k);
      traits['jobTitle'] = at(JOB_TITLES, Math.floor(rand() * 100));
    }
    out.push({ source, sourceId, kind: 'contact', occurredAt: occurredAt(rand), identifiers, traits });
  }
  return out;
}

export type DatasetOptions = {
  /** Number of records wanted. */
  count: number;
  /** Makes sourceIds unique to this dataset. */
  tag: string;
  seed: number;
  /** The person behind the i-th generated person (default: i). */
  personAt?: (i: number, rand: () => number) => number;
};

/** `count` records of ~count/2.5 people, shuffled so that one person's records land in different batches. */
export function generateRecords(options: DatasetOptions): HubRecord[] {
  const rand = prng(options.seed);
  const records: HubRecord[] = [];
  for (let i = 0; records.length < options.count; i += 1) {
    const k = options.personAt ? options.personAt(i, rand) : i;
    records.push(...personRecords(person(k), i, options.tag, rand));
  }
  records.length = options.count;
  for (let i = records.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rand() * (i + 1));
    const a = records[i] as HubRecord;
    records[i] = records[j] as HubRecord;
    records[j] = a;
  }
  return records;
}

/** Splits records into POST bodies of `size`. */
export function batchBodies(records: readonly HubRecord[], size: number): string[] {
  const bodies: string[] = [];
  for (let i = 0; i < records.length; i += size) bodies.push(JSON.stringify({ records: records.slice(i, i + size) }));
  return bodies;
}
