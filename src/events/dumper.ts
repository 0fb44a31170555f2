/**
 * Lines as `celery events --dump` prints them (Celery's `celery.events.dumper.Dumper`):
 *
 *   celery@host [2026-11-25 05:43:22.693967] task received: tasks.add(<id>) args=(2, 3) kwargs={} clock=13, ...
 *   celery@host [2026-11-25 05:43:18.581355] heartbeat: active=0, clock=3, freq=2.0, ...
 *
 * Fields are sorted by name and printed with Python's str(); the task's name and arguments
 * are remembered from its received/sent event for its later events.
 */
import { encodeEvent, type CeleryEvent } from '../protocol/event.js';
import { pyRepr } from '../protocol/repr.js';

const HUMAN_TYPES: Readonly<Record<string, string>> = {
  'worker-offline': 'shutdown',
  'worker-online': 'started',
  'worker-heartbeat': 'heartbeat',
};

/** Celery's humanize_type: `worker-online` → `started`, `task-received` → `task received`. */
export function humanizeType(type: string): string {
  const t = type.toLowerCase();
  return HUMAN_TYPES[t] ?? t.replace(/-/g, ' ');
}

/** Python's `str(datetime.utcfromtimestamp(ts))`: `2026-11-25 05:43:22.693967`. */
export function utcDatetimeString(epochSeconds: number): string {
  const micros = Math.round(epochSeconds * 1e6);
  const ms = Math.floor(micros / 1000);
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const base = `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  const frac = ((micros % 1_000_000) + 1_000_000) % 1_000_000;
  return frac === 0 ? base : `${base}.${p(frac, 6)}`;
}

/** Python's `str()` of a decoded JSON value. */
function pyStr(v: unknown): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

/** Formats events as Celery's dumper; remembers task names (up to 4095, as Celery's LRU). */
export class EventDumper {
  readonly #names = new Map<string, string>();

  /** The line for one event. */
  format(event: CeleryEvent): string {
    const ev = encodeEvent(event);
    const timestamp = utcDatetimeString(Number(ev['timestamp']));
    const type = String(ev['type']).toLowerCase();
    const hostname = String(ev['hostname']);
    delete ev['timestamp'];
    delete ev['type'];
    delete ev['hostname'];
    let task: string | undefined;
    if (type.startsWith('task-')) {
      const uuid = String(ev['uuid']);
      delete ev['uuid'];
      if (type === 'task-received' || type === 'task-sent') {
        task = `${pyStr(ev['name'])}(${uuid}) args=${pyStr(ev['args'])} kwargs=${pyStr(ev['kwargs'])}`;
        delete ev['name'];
        delete ev['args'];
        delete ev['kwargs'];
        this.#remember(uuid, task);
      } else task = this.#names.get(uuid) ?? '';
    }
    const fields = Object.keys(ev)
      .sort()
      .map((k) => `${k}=${pyStr(ev[k])}`)
      .join(', ');
    const sep = fields ? ':' : '';
    const head = `${hostname} [${timestamp}] ${humanizeType(type)}${sep}`;
    return task === undefined ? `${head} ${fields}` : `${head} ${task} ${fields}`;
  }

  #remember(uuid: string, task: string): void {
    this.#names.delete(uuid);
    this.#names.set(uuid, task);
    if (this.#names.size > 0xfff) {
      const oldest = this.#names.keys().next().value;
      if (oldest !== undefined) this.#names.delete(oldest);
    }
  }
}
