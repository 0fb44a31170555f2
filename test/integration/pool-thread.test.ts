/** The thread pool with real worker threads: the shared child-pool suite. */
import { childPoolBehaviour } from '../fixtures/pool-app/behaviour.js';

childPoolBehaviour('threads');
