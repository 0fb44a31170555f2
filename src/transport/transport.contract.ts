/**
 * The transport contract: one suite every {@link Transport} must pass, grouped by capability.
 * Memory runs it as a unit test; SQLite and Redis run it for real. Tests that need a missing
 * capability (or a second connection the harness does not offer) are skipped with the reason.
 *
 * Usage:
 * ```ts
 * transportContract('sqlite', async () => ({ transport: createSqliteTransport(url), cleanup, peer }));
 * ```
 */
import { describe } from 'node:test';
import { connectionsContract } from './transport-connections.contract.js';
import { deliveryOptionsContract } from './transport-delivery.contract.js';
import { queueContract } from './transport-queues.contract.js';
import type { Make } from './transport-support.contract.js';

export { contractMessage, type TransportHarness } from './transport-support.contract.js';

/** Registers the transport contract suite for `name`; `make` builds a fresh harness per test. */
export function transportContract(name: string, make: Make): void {
  void describe(`transport contract: ${name}`, () => {
    queueContract(make);
    deliveryOptionsContract(make);
    connectionsContract(make);
  });
}
