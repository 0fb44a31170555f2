/**
 * "Tell me when this file may have changed": an `fs.watch` on the file (fast, a few ms) with a
 * fallback poll (for file systems without notifications, and for the moments the file does not
 * exist: SQLite deletes its `-wal` file when the last connection closes). Used by the SQLite
 * transport and result backend to wake on writes made by other connections and processes.
 */
import { watch, type FSWatcher } from 'node:fs';

/** Options of {@link FileChangeWatcher}. */
export interface FileChangeWatcherOptions {
  /** The file to watch. It may not exist yet, or be deleted and created again. */
  path: string;
  /** Milliseconds between fallback polls; each poll calls `onChange` too. */
  pollMs: number;
  /** Called on every possible change (often several times per write; coalesce downstream). */
  onChange: () => void;
}

/**
 * A notification can run before the write it announces is visible: SQLite writes a commit's
 * frames to the `-wal` file (which is what fires) and only then publishes the commit in the
 * `-shm` index. A reader woken in between sees nothing new, and no later event would come for
 * that commit until the next write or poll (250 ms: a client sending one task at a time met
 * it in about one round trip in a hundred). So each burst of notifications is followed by one
 * more `onChange` this many ms later.
 */
export const TRAILING_CHECK_MS = 1;

/**
 * Watches a file while started. The poll timer keeps the process alive while started (whoever
 * waits for a change needs that); `stop()` clears every handle. Start and stop are idempotent.
 */
export class FileChangeWatcher {
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private trailing: NodeJS.Timeout | undefined;

  constructor(private readonly options: FileChangeWatcherOptions) {}

  /** True while started. */
  get running(): boolean {
    return this.poll !== undefined;
  }

  /** True while the file notification is attached (false: only the poll is running). */
  get watching(): boolean {
    return this.watcher !== undefined;
  }

  start(): void {
    if (this.poll) return;
    this.attach();
    this.poll = setInterval(() => {
      if (!this.watcher) this.attach();
      this.options.onChange();
    }, this.options.pollMs);
  }

  stop(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    if (this.trailing) clearTimeout(this.trailing);
    this.trailing = undefined;
    this.detach();
  }

  /**
   * One more onChange at `at` (performance.now() time). Node's timers count from the loop's
   * cached clock, so a 1 ms timer set late in a loop turn can fire 0.1 ms later: re-arm for
   * the rest until the time has really passed.
   */
  private trailAfter(at: number): void {
    this.trailing = setTimeout(
      () => {
        this.trailing = undefined;
        if (!this.poll) return;
        if (performance.now() < at) this.trailAfter(at);
        else this.options.onChange();
      },
      Math.max(1, Math.ceil(at - performance.now())),
    );
  }

  private attach(): void {
    try {
      const w = watch(this.options.path, { persistent: false }, (event) => {
        // 'rename': the file was deleted or replaced; watch the new one at the next poll.
        if (event === 'rename') this.detach();
        this.options.onChange();
        if (!this.trailing) this.trailAfter(performance.now() + TRAILING_CHECK_MS);
      });
      w.on('error', () => this.detach());
      this.watcher = w;
    } catch {
      this.watcher = undefined;
    }
  }

  private detach(): void {
    const w = this.watcher;
    this.watcher = undefined;
    w?.close();
  }
}
