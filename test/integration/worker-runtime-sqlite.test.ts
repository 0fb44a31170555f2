/** The worker-runtime suite on the embedded SQLite store. */
import { join } from 'node:path';
import { runtimeSuite } from './worker-runtime.shared.js';

runtimeSuite({ name: 'sqlite', url: async (dir) => `sqlite:///${join(dir, 'broker.db')}` });
