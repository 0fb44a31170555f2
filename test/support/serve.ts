/**
 * Starts the servers a whole test run shares, for scripts/test.sh:
 *
 *   node --import tsx test/support/serve.ts --out FILE [--redis] [--amqp]
 *
 * (Not `--env-file`: Node 20 takes that flag for itself even after the script name.)
 * Writes `export CELERIAC_TEST_REDIS_URL=...` / `export CELERIAC_TEST_AMQP_URL=...` lines to FILE
 * as each server becomes ready, a `# failed <name>: <reason>` line for one that could not start,
 * and `# done` once every requested server is settled. Runs until SIGTERM/SIGINT/SIGHUP, then
 * stops the servers and exits. The servers die with this process in any case (parent-death signal).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { startRabbitMQ, SHARED_AMQP_ENV } from './rabbitmq.js';
import { startRedis, SHARED_REDIS_ENV } from './redis.js';

interface Stoppable {
  stop(): Promise<void>;
}

async function main(argv: readonly string[]): Promise<void> {
  const fileIdx = argv.indexOf('--out');
  const envFile = fileIdx >= 0 ? argv[fileIdx + 1] : undefined;
  if (!envFile) throw new Error('usage: serve.ts --out FILE [--redis] [--amqp]');
  const lines: string[] = [];
  const write = (line: string): void => {
    lines.push(line);
    writeFileSync(`${envFile}.tmp`, lines.join('\n') + '\n');
    renameSync(`${envFile}.tmp`, envFile);
  };
  const running: Stoppable[] = [];
  let stopping = false;
  const shutdown = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      await Promise.allSettled(running.map((s) => s.stop()));
    }
    process.exit(code);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => void shutdown(0));
  }

  const starts: Promise<void>[] = [];
  if (argv.includes('--redis')) {
    starts.push(
      startRedis({ private: true, appendonly: false }).then(
        (r) => {
          running.push(r);
          write(`export ${SHARED_REDIS_ENV}=redis://${r.host}:${r.port}`);
          console.log(`serve: redis-server ready on ${r.host}:${r.port}`);
        },
        (err: unknown) => write(`# failed redis: ${oneLine(err)}`),
      ),
    );
  }
  if (argv.includes('--amqp')) {
    const t0 = Date.now();
    starts.push(
      startRabbitMQ({ private: true }).then(
        (r) => {
          running.push(r);
          write(`export ${SHARED_AMQP_ENV}=${r.url}`);
          console.log(
            `serve: rabbitmq-server ready on ${r.host}:${r.port} after ${Date.now() - t0} ms`,
          );
        },
        (err: unknown) => {
          console.error(`serve: rabbitmq-server failed: ${String(err)}`);
          write(`# failed amqp: ${oneLine(err)}`);
        },
      ),
    );
  }
  await Promise.all(starts);
  write('# done');
  if (stopping) return;
  // Keep running until told to stop. A timer keeps the event loop alive.
  setInterval(() => {}, 1 << 30);
}

function oneLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? '';
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`serve: ${String(err)}`);
  process.exit(1);
});
