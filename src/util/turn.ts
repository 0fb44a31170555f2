/**
 * The end of the current turn of the event loop: after the synchronous code that is running
 * and every promise reaction it sets off (however long that chain), before the loop polls for
 * I/O again.
 *
 * Coalesced writes (a tick's publishes, results, acks, subscriptions) go out there rather than
 * on `setImmediate`: the same items end up in the batch, one loop iteration (an epoll call and
 * a timers pass) sooner. That iteration is on the critical path of every round trip.
 *
 * How: a microtask that queues a `process.nextTick`. Node runs the tick queue only once the
 * microtask queue is empty, so the tick sees everything the turn's reactions added; a bare
 * nextTick called from synchronous code would run before them, a bare microtask among them.
 */
export function atEndOfTurn(fn: () => void): void {
  queueMicrotask(() => process.nextTick(fn));
}
