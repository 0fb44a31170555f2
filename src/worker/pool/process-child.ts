/**
 * Entry of a prefork child (started by `process.ts` with child_process.fork). It ignores
 * Ctrl+C (the terminal signals the whole process group; the parent decides when children
 * stop) and exits when the parent goes away (the IPC channel closes).
 */
import { ChildRuntime } from './child-runtime.js';
import { packMessage, unpackMessage } from './ipc-codec.js';
import { isToChild, type FromChild } from './messages.js';

const send = process.send?.bind(process);
if (!send) {
  process.stderr.write(
    'process-child is started by the prefork pool (it needs an IPC channel); do not run it directly\n',
  );
  process.exit(2);
}

const runtime = new ChildRuntime({
  send(message: FromChild, then?: () => void): void {
    // packMessage throws here for a value that cannot be cloned (a function, a symbol...).
    send(packMessage(message), undefined, undefined, then ? () => then() : undefined);
  },
  exit(code: number): void {
    process.exit(code);
  },
  memory: () => process.memoryUsage.rss(),
});

process.on('SIGINT', () => {});
process.on('unhandledRejection', (reason) => runtime.unhandledRejection(reason));
process.on('disconnect', () => process.exit(0));
process.on('message', (received: unknown) => {
  const message = unpackMessage(received);
  if (isToChild(message)) runtime.handle(message);
});
