/**
 * kombu's Redis key layout (spec §b), in one place: queue lists and their priority
 * sub-queues, `_kombu.binding.<exchange>` sets, the `unacked` hash/index/mutex, fanout
 * channels, and celeriac's own keys (delayed messages, redelivery counts). Every key gets
 * the transport option `globalKeyprefix`, as kombu's PrefixedStrictRedis does.
 */

/** kombu's separator in binding members and priority sub-queue names (spec §b.4). */
export const KOMBU_SEP = '\x06\x16';
/** kombu's virtual dead-letter queue: where its restore sends a message that names no queue. */
export const KOMBU_DEADLETTER_QUEUE = 'ae.undeliver';
/** kombu's priority steps: priority p is served from the highest step ≤ p (spec §b.4). */
export const KOMBU_PRIORITY_STEPS: readonly number[] = [0, 3, 6, 9];

/** What the layout depends on (from the URL and the transport options). */
export interface KeyLayoutOptions {
  db: number;
  sep?: string;
  prioritySteps?: readonly number[];
  globalKeyprefix?: string;
  /** kombu's fanout_prefix: true = `/{db}.`, false = none, a string = that prefix. */
  fanoutPrefix?: boolean | string;
  /** kombu's fanout_patterns: append `/routing_key` to fanout channels. */
  fanoutPatterns?: boolean;
  unackedKey?: string;
  unackedIndexKey?: string;
  unackedMutexKey?: string;
}

/** Key names for one transport. */
export class KeyLayout {
  readonly sep: string;
  readonly prioritySteps: readonly number[];
  readonly prefix: string;
  readonly fanoutPrefix: string;
  readonly fanoutPatterns: boolean;
  /** kombu: `unacked` hash, tag → `[envelope, exchange, routing_key]`. */
  readonly unacked: string;
  /** kombu: `unacked_index` sorted set, tag → epoch seconds when handed out (or last touched). */
  readonly unackedIndex: string;
  /** kombu: `unacked_mutex`, the lock of restore passes. */
  readonly unackedMutex: string;
  /** celeriac: sorted set, delivery tag → epoch ms when a deferred message is due. */
  readonly delayed: string;
  /** celeriac: hash, delivery tag → `<length of list key>:<list key><envelope>`. */
  readonly delayedMessages: string;
  /** celeriac: hash, delivery tag → how many times it was put back after being handed out. */
  readonly redeliveries: string;

  constructor(options: KeyLayoutOptions) {
    this.sep = options.sep ?? KOMBU_SEP;
    this.prioritySteps = [...(options.prioritySteps ?? KOMBU_PRIORITY_STEPS)].sort((a, b) => a - b);
    if (this.prioritySteps[0] !== 0) this.prioritySteps = [0, ...this.prioritySteps];
    this.prefix = options.globalKeyprefix ?? '';
    const fp = options.fanoutPrefix ?? true;
    this.fanoutPrefix =
      fp === true ? `/${options.db}.` : fp === false ? '' : fp.replace('{db}', String(options.db));
    this.fanoutPatterns = options.fanoutPatterns ?? true;
    this.unacked = this.prefix + (options.unackedKey ?? 'unacked');
    this.unackedIndex = this.prefix + (options.unackedIndexKey ?? 'unacked_index');
    this.unackedMutex = this.prefix + (options.unackedMutexKey ?? 'unacked_mutex');
    this.delayed = this.prefix + 'celeriac.delayed';
    this.delayedMessages = this.prefix + 'celeriac.delayed.messages';
    this.redeliveries = this.prefix + 'celeriac.redeliveries';
  }

  /** kombu's `priority(n)`: the highest step ≤ n (n clamped to 0..9; invalid → 0). */
  step(priority: number | undefined | null): number {
    const p =
      typeof priority === 'number' && Number.isFinite(priority)
        ? Math.min(9, Math.max(0, Math.trunc(priority)))
        : 0;
    let step = 0;
    for (const s of this.prioritySteps) if (s <= p) step = s;
    return step;
  }

  /** The list key of `queue` for a priority (kombu's `_q_for_pri`): step 0 has no suffix. */
  queueKey(queue: string, priority = 0): string {
    const step = this.step(priority);
    return this.prefix + (step ? `${queue}${this.sep}${step}` : queue);
  }

  /** Every list key of `queue`, lowest step (served first) first. */
  queueKeys(queue: string): string[] {
    return this.prioritySteps.map((step) => this.queueKey(queue, step));
  }

  /**
   * The keys a consumer of `queues` serves, in kombu's BRPOP order: by priority step first,
   * then by queue.
   */
  consumeKeys(queues: readonly string[]): Array<{ key: string; queue: string }> {
    const out: Array<{ key: string; queue: string }> = [];
    for (const step of this.prioritySteps) {
      for (const queue of queues) out.push({ key: this.queueKey(queue, step), queue });
    }
    return out;
  }

  /** `_kombu.binding.<exchange>`. */
  bindingKey(exchange: string): string {
    return `${this.prefix}_kombu.binding.${exchange}`;
  }

  /** A binding set member: `routing_key SEP pattern SEP queue`. */
  bindingMember(routingKey: string, pattern: string, queue: string): string {
    return [routingKey, pattern, queue].join(this.sep);
  }

  /** Splits a binding set member (kombu's `get_table`). */
  parseBindingMember(member: string): { routingKey: string; pattern: string; queue: string } {
    const [routingKey = '', pattern = '', queue = ''] = member.split(this.sep);
    return { routingKey, pattern, queue };
  }

  /** The PUBLISH channel of a fanout message (kombu's `_get_publish_topic`). */
  publishChannel(exchange: string, routingKey: string): string {
    const tail = routingKey && this.fanoutPatterns ? `/${routingKey}` : '';
    return `${this.prefix}${this.fanoutPrefix}${exchange}${tail}`;
  }

  /** The PSUBSCRIBE pattern of a fanout binding: the binding key with `#` → `*`. */
  subscribePattern(exchange: string, bindingKey: string): string {
    return this.publishChannel(exchange, bindingKey.replace(/#/g, '*'));
  }
}

/**
 * kombu's TopicExchange.key_to_pattern: the regex stored as the binding's pattern for topic
 * exchanges (Python workers match routing keys with it).
 */
export function topicPattern(bindingKey: string): string {
  const escaped = [...bindingKey]
    .map((c) =>
      /^[\p{L}\p{N}]$/u.test(c) || c === '.' || c === '#' || c === '*'
        ? c
        : c === '\0'
          ? '\\000'
          : `\\${c}`,
    )
    .join('');
  const words = escaped.split('.').map((w) => (w === '*' ? '.*?[^\\.]' : w === '#' ? '.*?' : w));
  return `^${words.join('\\.')}$`;
}
