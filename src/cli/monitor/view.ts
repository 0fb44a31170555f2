/**
 * The terminal monitor's screen as text (pure: model in, lines out), so it can be tested
 * without a terminal. Layout, top to bottom: a title bar, the task list (newest first, the
 * selected one highlighted), the selected task's details, the workers, and a footer with the
 * keys, a prompt or the last message.
 */
import { pc } from '../colors.js';
import { isAlive, type ClusterState, type TaskInfo, type WorkerInfo } from '../../events/state.js';

/** What the screen shows. */
export interface MonitorModel {
  state: ClusterState;
  /** Epoch seconds. */
  now: number;
  /** Broker URL, password masked. */
  broker: string;
  /** UUID of the selected task. */
  selected: string | null;
  /** Index of the first task row shown. */
  scroll: number;
  /** The last message (reply to r/l, errors). */
  message: string;
  /** An open prompt (rate limit). */
  prompt: { label: string; value: string } | null;
}

/** Rows the task list gets on a screen of `height` lines. */
export function listHeight(height: number): number {
  return Math.max(3, height - 16);
}

const STATE_COLOR: Record<string, (s: string) => string> = {
  SUCCESS: pc.green,
  FAILURE: pc.red,
  REVOKED: pc.magenta,
  REJECTED: pc.magenta,
  RETRY: pc.yellow,
  STARTED: pc.yellow,
  RECEIVED: pc.cyan,
  PENDING: pc.dim,
};

/** Cuts or pads `text` to exactly `width` visible characters. */
export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  const flat = text.replace(/[\r\n\t]+/g, ' ');
  if (flat.length > width) return width === 1 ? '…' : `${flat.slice(0, width - 1)}…`;
  return flat.padEnd(width);
}

/** `HH:MM:SS` local time of epoch seconds, or blanks. */
export function clockTime(seconds: number | null): string {
  if (seconds === null) return '        ';
  const d = new Date(seconds * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function columns(width: number): { uuid: number; task: number; worker: number } {
  const uuid = width >= 100 ? 36 : 8;
  const rest = Math.max(10, width - uuid - 8 - 8 - 6);
  const task = Math.ceil(rest * 0.55);
  return { uuid, task, worker: rest - task };
}

function taskRow(t: TaskInfo, width: number, selected: boolean): string {
  const col = columns(width);
  const state = fit(t.state, 8);
  const plain = [
    fit(t.uuid, col.uuid),
    fit(t.name ?? '', col.task),
    fit(t.worker ?? t.client ?? '', col.worker),
    clockTime(t.timestamp),
  ].join(' ');
  const line = ` ${plain} `;
  if (selected) return pc.inverse(fit(`${line}${state}`, width));
  const color = STATE_COLOR[t.state] ?? ((s: string) => s);
  return `${line}${color(state)}`;
}

function detailLines(t: TaskInfo | undefined, width: number): string[] {
  if (!t) return [fit(' No task selected: tasks appear as workers send task events (-E).', width)];
  const when = (label: string, v: number | null): string =>
    v === null ? '' : `${label} ${clockTime(v)}  `;
  const lines = [
    ` ${pc.bold(t.name ?? '?')} ${t.uuid}  ${(STATE_COLOR[t.state] ?? ((s: string) => s))(t.state)}  worker: ${t.worker ?? '-'}`,
    ` args: ${t.args ?? '-'}  kwargs: ${t.kwargs ?? '-'}${t.retries ? `  retries: ${t.retries}` : ''}${t.eta ? `  eta: ${t.eta}` : ''}`,
    ` ${when('sent', t.sent)}${when('received', t.received)}${when('started', t.started)}${when('succeeded', t.succeeded)}${when('failed', t.failed)}${when('retried', t.retried)}${when('revoked', t.revoked)}${t.runtime !== null ? `runtime ${t.runtime.toFixed(3)}s` : ''}`,
  ];
  if (t.result !== null) lines.push(` result: ${t.result}`);
  if (t.exception !== null) lines.push(` exception: ${t.exception}`);
  if (t.traceback) {
    const tb = t.traceback.trimEnd().split('\n');
    lines.push(' traceback:', ...tb.slice(-4).map((l) => `   ${l}`));
  }
  return lines.map((l) => fitAnsi(l, width));
}

/** Truncates a line that may hold color codes to `width` visible characters. */
function fitAnsi(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      if (end !== -1) {
        out += line.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible >= width) break;
    const ch = line[i] ?? '';
    out += ch === '\n' ? ' ' : ch;
    visible++;
  }
  return out + (out.includes('\x1b') ? '\x1b[0m' : '');
}

function workerText(w: WorkerInfo, now: number): string {
  const alive = isAlive(w, now);
  const status = alive ? pc.green('online') : pc.red('offline');
  const load = w.loadavg ? ` load ${w.loadavg.join(' ')}` : '';
  const counts = w.active !== null ? ` active ${w.active} processed ${w.processed ?? 0}` : '';
  return `${w.hostname} (${status}${counts}${load}${w.swIdent ? ` ${w.swIdent} ${w.swVer ?? ''}` : ''})`;
}

/** The screen, `height` lines of at most `width` visible characters. */
export function renderMonitor(model: MonitorModel, width: number, height: number): string[] {
  const { state, now } = model;
  const tasks = state.tasksByTime();
  const alive = state.aliveWorkers(now);
  const rows = listHeight(height);
  const title = ` celeriac events  ${model.broker}  workers online: ${alive.length}  tasks: ${tasks.length}  events: ${state.eventCount}`;
  const clock = `${clockTime(now)} `;
  const lines: string[] = [pc.inverse(fit(title, width - clock.length) + clock)];
  const col = columns(width);
  lines.push(
    pc.bold(
      fit(
        ` ${fit('UUID', col.uuid)} ${fit('TASK', col.task)} ${fit('WORKER', col.worker)} ${fit('TIME', 8)} STATE`,
        width,
      ),
    ),
  );
  const shown = tasks.slice(model.scroll, model.scroll + rows);
  for (const t of shown) lines.push(taskRow(t, width, t.uuid === model.selected));
  for (let i = shown.length; i < rows; i++)
    lines.push(i === 0 && tasks.length === 0 ? pc.dim(' (no tasks yet)') : '');
  lines.push(pc.dim('─'.repeat(width)));
  const details = detailLines(model.selected ? state.task(model.selected) : undefined, width);
  for (let i = 0; i < 9; i++) lines.push(details[i] ?? '');
  lines.push(pc.dim('─'.repeat(width)));
  const workers = state.workers().map((w) => workerText(w, now));
  lines.push(fitAnsi(` Workers: ${workers.length ? workers.join(', ') : 'none seen yet'}`, width));
  let footer: string;
  if (model.prompt) footer = `${model.prompt.label}${model.prompt.value}█`;
  else if (model.message) footer = model.message;
  else
    footer = pc.dim(
      '↑/↓ j/k: select   r: revoke   t: terminate   l: rate limit   c: clear done   q: quit',
    );
  lines.push(fitAnsi(` ${footer}`, width));
  return lines.slice(0, height);
}
