/**
 * Publishing as kombu does (spec §b.2), coalesced: every publish of one turn of the event
 * loop goes out in one pipeline, one variadic LPUSH per list key (FIFO is kept: LPUSH k a b
 * puts b before a at the head, and consumers take from the tail). A named exchange costs one
 * more round trip (SMEMBERS of its binding set, for all such publishes of the tick at once).
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { encodeEnvelope } from '../../protocol/kombu-envelope.js';
import type { WireMessage } from '../../protocol/types.js';
import type { PublishOptions, QueueSpec, Route } from '../types.js';
import { TickBatch } from './batch.js';
import { queuesFor, type ExchangeType } from './bindings.js';
import { throwFirst } from './held.js';
import { topicPattern, type KeyLayout } from './keys.js';

interface Outgoing {
  envelope: string;
  route: Route;
  priority: number;
}

/** Publishing and declarations of one transport. */
export class Publisher {
  private readonly batch: TickBatch<Outgoing>;
  /** Exchange types declared by this process (kombu keeps them in memory too). */
  readonly exchangeTypes = new Map<string, ExchangeType>();
  /** Binding members already written by this process (`<binding key>\n<member>`). */
  private readonly declared = new Set<string>();

  constructor(
    private readonly main: Redis,
    private readonly layout: KeyLayout,
  ) {
    this.batch = new TickBatch((items) => this.write(items));
  }

  /** SADD the queue's binding, as kombu's queue_bind (`routing_key SEP pattern SEP queue`). */
  async declare(spec: QueueSpec): Promise<void> {
    const exchange = spec.exchange ?? spec.name;
    const type = spec.exchangeType ?? 'direct';
    const routingKey = spec.routingKey ?? spec.name;
    this.exchangeTypes.set(exchange, type);
    const pattern = type === 'topic' ? topicPattern(routingKey) : '';
    const key = this.layout.bindingKey(exchange);
    const member = this.layout.bindingMember(routingKey, pattern, spec.name);
    if (this.declared.has(`${key}\n${member}`)) return;
    await this.main.sadd(key, member);
    this.declared.add(`${key}\n${member}`);
  }

  /**
   * Publishes; resolves when Redis has the message.
   * @throws EncodeError (synchronously rejected) when headers cannot be written as JSON.
   */
  publish(message: WireMessage, route: Route, options: PublishOptions = {}): Promise<void> {
    const priority = options.priority ?? message.properties.priority ?? 0;
    let envelope: string;
    try {
      envelope = encodeEnvelope(message, {
        exchange: route.exchange,
        routingKey: route.routingKey,
        deliveryTag: randomUUID(),
        priority,
      });
    } catch (err) {
      return Promise.reject(err);
    }
    return this.batch.add({ envelope, route, priority });
  }

  private async write(items: readonly Outgoing[]): Promise<void> {
    const tables = await this.bindingTables(items);
    const byKey = new Map<string, string[]>();
    const sadds: Array<[string, string]> = [];
    for (const item of items) {
      const { exchange, routingKey } = item.route;
      let queues: string[];
      if (exchange === '') {
        queues = [routingKey];
        this.autoDeclare(routingKey, sadds);
      } else {
        queues = queuesFor(
          this.layout,
          tables.get(exchange) ?? [],
          this.exchangeTypes.get(exchange) ?? 'direct',
          routingKey,
        );
      }
      for (const queue of queues) {
        const key = this.layout.queueKey(queue, item.priority);
        let list = byKey.get(key);
        if (!list) byKey.set(key, (list = []));
        list.push(item.envelope);
      }
    }
    const pipe = this.main.pipeline();
    for (const [key, member] of sadds) pipe.sadd(key, member);
    for (const [key, values] of byKey) pipe.lpush(key, ...values);
    throwFirst(await pipe.exec());
    for (const [key, member] of sadds) this.declared.add(`${key}\n${member}`);
  }

  /**
   * The first publish to a queue through the default exchange also writes the binding a
   * Python producer writes (`_kombu.binding.<queue>` ← `<queue> SEP SEP <queue>`), so the
   * routing tables look the same whoever published first.
   */
  private autoDeclare(queue: string, sadds: Array<[string, string]>): void {
    if (this.exchangeTypes.has(queue)) return;
    const key = this.layout.bindingKey(queue);
    const member = this.layout.bindingMember(queue, '', queue);
    if (this.declared.has(`${key}\n${member}`) || sadds.some(([k, m]) => k === key && m === member))
      return;
    sadds.push([key, member]);
  }

  private async bindingTables(items: readonly Outgoing[]): Promise<Map<string, string[]>> {
    const exchanges = [...new Set(items.map((i) => i.route.exchange).filter((e) => e !== ''))];
    const tables = new Map<string, string[]>();
    if (exchanges.length === 0) return tables;
    const pipe = this.main.pipeline();
    for (const exchange of exchanges) pipe.smembers(this.layout.bindingKey(exchange));
    const results = await pipe.exec();
    throwFirst(results);
    exchanges.forEach((exchange, i) =>
      tables.set(exchange, (results?.[i]?.[1] as string[] | undefined) ?? []),
    );
    return tables;
  }

  /** Waits for publishes still in flight. */
  flush(): Promise<void> {
    return this.batch.flush();
  }
}
