/** Remote control and events on the embedded SQLite broker (fanout through its broadcast table). */
import { join } from 'node:path';
import { remoteControlSuite } from './remote-control.shared.js';

remoteControlSuite({ name: 'sqlite', url: async (dir) => `sqlite:///${join(dir, 'broker.db')}` });
