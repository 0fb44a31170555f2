import { backendContract } from '../../src/backend/backend.contract.js';
import { MemoryBackend } from '../../src/backend/memory.js';
import type { Clock } from '../../src/util/clock.js';

backendContract('memory', async () => {
  let offset = 0;
  const clock: Clock = {
    now: () => Date.now() + offset,
    monotonic: () => performance.now() + offset,
  };
  return {
    backend: new MemoryBackend({ clock }),
    cleanup: async () => undefined,
    advanceTime: (ms: number) => {
      offset += ms;
    },
  };
});
