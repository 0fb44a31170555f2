/** Celery's start-up banner, as `celery worker` prints it. */
import { release, type as osType } from 'node:os';

export interface BannerInfo {
  hostname: string;
  version: string;
  appName: string;
  transport: string;
  results: string;
  concurrency: number;
  pool: string;
  events: boolean;
  queues: Array<{ name: string; exchange: string; routingKey: string }>;
  tasks: string[];
  date: Date;
}

/** The banner text (ends with a blank line). */
export function renderBanner(info: BannerInfo): string {
  const date = info.date.toISOString().replace('T', ' ').slice(0, 19);
  const events = info.events ? 'ON' : 'OFF (enable -E to monitor tasks in this worker)';
  const art = [
    ` -------------- ${info.hostname} v${info.version} (celeriac)`,
    '--- ***** ----- ',
    `-- ******* ---- ${osType()}-${release()} ${date}`,
    '- *** --- * --- ',
    '- ** ---------- [config]',
    `- ** ---------- .> app:         ${info.appName}`,
    `- ** ---------- .> transport:   ${info.transport}`,
    `- ** ---------- .> results:     ${info.results}`,
    `- *** --- * --- .> concurrency: ${info.concurrency} (${info.pool})`,
    `-- ******* ---- .> task events: ${events}`,
    '--- ***** ----- ',
    ' -------------- [queues]',
  ];
  const queues = info.queues.map(
    (q) =>
      `                .> ${q.name.padEnd(16)} exchange=${q.exchange}(direct) key=${q.routingKey}`,
  );
  const tasks = info.tasks.length ? info.tasks.map((t) => `  . ${t}`) : ['  (no tasks registered)'];
  return [...art, ...queues, '', '[tasks]', ...tasks, '', ''].join('\n');
}
