/**
 * `--statedb`: the worker's revoked ids survive a restart (Celery's worker_state_db). The file
 * is JSON, written atomically (write, then rename) on changes and at shutdown.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { CeleriacError } from '../errors.js';
import type { RevokedSet } from './state.js';

interface StateFile {
  version: 1;
  /** [task id, epoch ms when revoked] */
  revoked: Array<[string, number]>;
}

/** Keeps a RevokedSet in a file. */
export class StateDb {
  readonly #path: string;
  readonly #revoked: RevokedSet;
  #savedVersion = -1;
  #timer: NodeJS.Timeout | undefined;

  constructor(path: string, revoked: RevokedSet) {
    this.#path = path;
    this.#revoked = revoked;
  }

  /** Loads the file if it exists. Throws a clear error when it is not a celeriac state file. */
  load(): number {
    let text: string;
    try {
      text = readFileSync(this.#path, 'utf8');
    } catch {
      return 0; // first start
    }
    let data: StateFile;
    try {
      data = JSON.parse(text) as StateFile;
      if (data.version !== 1 || !Array.isArray(data.revoked)) throw new Error('unknown layout');
    } catch (error) {
      throw new CeleriacError(
        'CONFIG_INVALID',
        `--statedb ${this.#path} is not a celeriac state file`,
        {
          cause: error,
          hint: 'point --statedb at a new file (Python Celery state files are shelve databases and cannot be read)',
        },
      );
    }
    for (const [id, at] of data.revoked) this.#revoked.add(id, at);
    this.#savedVersion = this.#revoked.version;
    return data.revoked.length;
  }

  /** Saves now when the set changed since the last save. */
  save(): void {
    if (this.#revoked.version === this.#savedVersion) return;
    const data: StateFile = { version: 1, revoked: this.#revoked.entries() };
    const tmp = `${this.#path}.tmp`;
    writeFileSync(tmp, JSON.stringify(data));
    renameSync(tmp, this.#path);
    this.#savedVersion = this.#revoked.version;
  }

  /** Saves every `intervalMs` while running. */
  start(intervalMs = 1000): void {
    this.#timer = setInterval(() => this.save(), intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and saves once more. */
  close(): void {
    clearInterval(this.#timer);
    this.save();
  }
}
