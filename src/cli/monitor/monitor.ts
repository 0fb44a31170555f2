/**
 * `celeriac events`: a live terminal monitor of tasks and workers (Celery's curses monitor).
 *
 * Rendering is a small dependency-free ANSI renderer rather than ink + react: the screen is
 * one fixed layout redrawn in place (cursor home, lines, clear-to-end) at most ten times a
 * second, and keys come from Node's own keypress parser, so ~200 lines do what a UI
 * framework would, without its weight on every `celeriac` start or its install size.
 */
import { emitKeypressEvents } from 'node:readline';
import type { Celery } from '../../app/celery.js';
import { EventReceiver } from '../../events/receiver.js';
import { ClusterState } from '../../events/state.js';
import { listHeight, renderMonitor, type MonitorModel } from './view.js';

/** Terminal streams (process.stdin / process.stdout by default). */
export interface MonitorIO {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

interface Key {
  name?: string | undefined;
  ctrl?: boolean | undefined;
  sequence?: string | undefined;
}

const ESC = '\x1b[';

/** Runs the monitor until `q` (or Ctrl-C); resolves when the terminal is restored. */
export async function runMonitor(
  app: Celery,
  io: MonitorIO = { input: process.stdin, output: process.stdout },
): Promise<void> {
  const { input, output } = io;
  const state = new ClusterState();
  const model: MonitorModel = {
    state,
    now: Date.now() / 1000,
    broker: app.describeUrls().broker,
    selected: null,
    scroll: 0,
    message: '',
    prompt: null,
  };
  let dirty = true;
  let renderTimer: NodeJS.Timeout | undefined;
  const size = (): { width: number; height: number } => ({
    width: Math.max(40, output.columns || 100),
    height: Math.max(20, output.rows || 30),
  });

  const draw = (): void => {
    renderTimer = undefined;
    if (!dirty) return;
    dirty = false;
    model.now = Date.now() / 1000;
    const { width, height } = size();
    keepSelectionVisible(model, height);
    const lines = renderMonitor(model, width, height);
    output.write(`${ESC}H${lines.join(`${ESC}K\n`)}${ESC}K${ESC}J`);
  };
  const render = (): void => {
    dirty = true;
    renderTimer ??= setTimeout(draw, 100);
  };

  const receiver = new EventReceiver({
    transport: await app.connection(),
    clock: app.lamport,
    exchange: app.conf.eventExchange,
    onEvent: (event) => {
      state.apply(event);
      // Select the first task seen, and again when the selected one is gone (c, eviction).
      if (event.group === 'task' && (model.selected === null || !state.task(model.selected)))
        model.selected = event.uuid;
      render();
    },
    onError: (error) => say(`Unreadable event: ${error.message}`),
  });
  const say = (message: string): void => {
    model.message = message;
    render();
  };

  output.write(`${ESC}?1049h${ESC}?25l${ESC}2J`);
  const restore = (): void => {
    output.write(`${ESC}?25h${ESC}?1049l`);
    if (input.isTTY) input.setRawMode(false);
  };
  const tick = setInterval(render, 1000);
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const selectBy = (delta: number): void => {
    const tasks = state.tasksByTime();
    if (tasks.length === 0) return;
    const i = tasks.findIndex((t) => t.uuid === model.selected);
    const next = Math.min(tasks.length - 1, Math.max(0, (i === -1 ? 0 : i) + delta));
    model.selected = tasks[next]?.uuid ?? null;
    render();
  };
  const selectedTask = () => (model.selected ? state.task(model.selected) : undefined);

  const revoke = async (terminate: boolean): Promise<void> => {
    const task = selectedTask();
    if (!task) return say('No task selected.');
    say(`${terminate ? 'Terminating' : 'Revoking'} ${task.uuid}...`);
    try {
      const replies = await app.control.revoke(task.uuid, { terminate, reply: true, timeout: 1 });
      say(
        replies.length === 0
          ? `Revoked ${task.uuid} (no worker replied)`
          : replies.map(describeReply).join('; '),
      );
    } catch (error) {
      say(`Revoke failed: ${(error as Error).message}`);
    }
  };
  const rateLimit = async (name: string, value: string): Promise<void> => {
    try {
      const replies = await app.control.rateLimit(name, value.trim() === '' ? null : value.trim(), {
        reply: true,
        timeout: 1,
      });
      say(replies.length === 0 ? 'No worker replied.' : replies.map(describeReply).join('; '));
    } catch (error) {
      say(`Rate limit failed: ${(error as Error).message}`);
    }
  };

  let onPrompt: ((value: string) => void) | undefined;
  const onKey = (str: string | undefined, key: Key | undefined): void => {
    if (key?.ctrl && key.name === 'c') return finish();
    if (model.prompt) {
      if (key?.name === 'return' || key?.name === 'enter') {
        const value = model.prompt.value;
        model.prompt = null;
        onPrompt?.(value);
      } else if (key?.name === 'escape') model.prompt = null;
      else if (key?.name === 'backspace') model.prompt.value = model.prompt.value.slice(0, -1);
      else if (str && str >= ' ' && str.length === 1) model.prompt.value += str;
      return render();
    }
    model.message = '';
    switch (key?.name ?? str ?? '') {
      case 'q':
        return finish();
      case 'up':
      case 'k':
        return selectBy(-1);
      case 'down':
      case 'j':
        return selectBy(1);
      case 'pageup':
        return selectBy(-listHeight(size().height));
      case 'pagedown':
        return selectBy(listHeight(size().height));
      case 'r':
        return void revoke(false);
      case 't':
        return void revoke(true);
      case 'c':
        state.clearTasks();
        return render();
      case 'l': {
        const task = selectedTask();
        if (!task?.name) return say('Select a task (of the task type to limit) first.');
        const name = task.name;
        model.prompt = { label: `Rate limit for ${name} (e.g. 10/m; empty = none): `, value: '' };
        onPrompt = (value) => void rateLimit(name, value);
        return render();
      }
      default:
        return render();
    }
  };

  emitKeypressEvents(input);
  if (input.isTTY) input.setRawMode(true);
  input.on('keypress', onKey);
  input.resume();
  output.on('resize', render);
  try {
    await receiver.start();
    // Workers announce themselves at once (as Celery's receiver does with wakeup=True).
    await app.control.heartbeat().catch(() => []);
    render();
    await finished;
  } finally {
    clearInterval(tick);
    if (renderTimer) clearTimeout(renderTimer);
    input.off('keypress', onKey);
    output.off('resize', render);
    input.pause();
    restore();
    await receiver.close();
  }
}

function keepSelectionVisible(model: MonitorModel, height: number): void {
  const rows = listHeight(height);
  const index = model.state.tasksByTime().findIndex((t) => t.uuid === model.selected);
  if (index === -1) return;
  if (index < model.scroll) model.scroll = index;
  else if (index >= model.scroll + rows) model.scroll = index - rows + 1;
}

function describeReply(reply: Record<string, unknown>): string {
  return Object.entries(reply)
    .map(([node, r]) => {
      const v = r as { ok?: unknown; error?: unknown } | null;
      if (v && typeof v === 'object' && 'ok' in v) return `${node}: ${String(v.ok)}`;
      if (v && typeof v === 'object' && 'error' in v) return `${node}: error ${String(v.error)}`;
      return `${node}: ${JSON.stringify(r)}`;
    })
    .join(', ');
}
