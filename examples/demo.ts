/**
 * The README's first command: starts a worker in a separate process on the embedded default
 * (a SQLite file, no server), sends add, mul and xsum with delay(), prints their ids, states
 * and results, then stops the worker.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { add, app, mul, xsum } from './tasks.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

async function main(): Promise<void> {
  console.log(`celeriac demo: broker ${app.describeUrls().broker}\n`);
  console.log(
    'Starting a worker process: celeriac -A examples/tasks.ts worker --loglevel=info -c 2',
  );
  const worker = spawn(
    process.execPath,
    [
      join(root, 'bin', 'celeriac.js'),
      '-A',
      join(root, 'examples', 'tasks.ts'),
      'worker',
      '--loglevel=info',
      '-c',
      '2',
    ],
    {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) =>
    worker.on('exit', (code) => resolve(code)),
  );
  worker.stdout.setEncoding('utf8');
  worker.stdout.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (line.trim()) console.log(`  [worker] ${line}`);
  });
  await new Promise<void>((resolve, reject) => {
    let buffer = '';
    worker.stderr.setEncoding('utf8');
    worker.stderr.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim()) console.log(`  [worker] ${line}`);
      buffer += chunk;
      if (buffer.includes(' ready.')) resolve();
    });
    void exited.then((code) => reject(new Error(`the worker exited early (code ${code})`)));
  });

  try {
    const calls = [
      ['add(4, 4)', await add.delay(4, 4)],
      ['mul(6, 7)', await mul.delay(6, 7)],
      ['xsum([1..10])', await xsum.delay([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])],
    ] as const;
    console.log('');
    for (const [label, result] of calls) {
      console.log(`sent ${label.padEnd(14)} id=${result.id} state=${await result.state()}`);
    }
    console.log('');
    for (const [label, result] of calls) {
      const value = await result.get({ timeout: 30 });
      console.log(
        `${label.padEnd(14)} = ${String(value).padEnd(4)} state=${await result.state()} (computed by the worker process ${worker.pid})`,
      );
    }
  } finally {
    worker.kill('SIGTERM');
    console.log(`\nworker stopped (exit code ${await exited})`);
    await app.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
