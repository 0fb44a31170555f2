/**
 * Entry of a thread-pool child (a worker_threads Worker started by `thread.ts`, after it
 * registered tsx in the thread so that a TypeScript app module can load).
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { ChildRuntime } from './child-runtime.js';
import { isToChild, type FromChild } from './messages.js';

const port = parentPort;
if (!port) throw new Error('thread-child is started by the thread pool; do not run it directly');

const runtime = new ChildRuntime({
  send(message: FromChild, then?: () => void): void {
    port.postMessage(message);
    then?.();
  },
  exit(code: number): void {
    // In a worker thread this ends the thread, not the process.
    process.exit(code);
  },
  // The process's resident set is shared by all threads; a thread's own share is its V8 heap.
  memory: () => getHeapStatistics().total_heap_size,
});

process.on('unhandledRejection', (reason) => runtime.unhandledRejection(reason));
port.on('message', (message: unknown) => {
  if (isToChild(message)) runtime.handle(message);
});
