import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBroker, MemoryTransport } from '../../src/transport/memory.js';
import { contractMessage, transportContract } from '../../src/transport/transport.contract.js';

transportContract('memory', async () => {
  const broker = new MemoryBroker();
  return {
    transport: new MemoryTransport({ broker }),
    cleanup: async () => undefined,
    peer: async () => new MemoryTransport({ broker }),
  };
});

void test('memory: each transport without a broker option gets its own private broker', async () => {
  const a = new MemoryTransport();
  const b = new MemoryTransport({});
  await a.publish(contractMessage('x'), { exchange: '', routingKey: 'q' });
  assert.equal(await a.size('q'), 1);
  assert.equal(await b.size('q'), 0);
  assert.equal(a.capabilities.multiProcess, false);
  await a.close();
  await b.close();
});

void test('memory: operations after close reject with ClosedError', async () => {
  const t = new MemoryTransport();
  await t.close();
  await assert.rejects(t.publish(contractMessage('x'), { exchange: '', routingKey: 'q' }), {
    code: 'CLOSED',
  });
});
