/**
 * Run logs: test apps append one JSON line per task run to the file named by RUN_LOG (appends
 * of short lines are atomic, so several worker processes can share one file).
 */
import { readFileSync } from 'node:fs';

/** The lines of a run log so far, parsed; none when the file does not exist yet. */
export function readRunLog<T>(file: string): T[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}
