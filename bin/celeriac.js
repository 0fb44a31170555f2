#!/usr/bin/env node
// The CLI entry. tsx is registered first when anything TypeScript is to be loaded: the -A
// module is a .ts file, or celeriac itself runs from its sources (no build, as in a fresh
// clone right after `npm install`, or CELERIAC_FROM_SOURCE=1). A built celeriac with a
// JavaScript app skips it (tsx's loader costs ~40 MB and most of a second per process);
// CELERIAC_TSX=1 forces it. src/util/typescript.ts makes the same choice for pool children.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
const fromBuild = existsSync(built) && !process.env.CELERIAC_FROM_SOURCE;

/** The -A / --app value on the command line, if any. */
function appArgument(argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-A' || a === '--app') return argv[i + 1];
    if (a.startsWith('--app=')) return a.slice('--app='.length);
    if (a.startsWith('-A')) return a.slice(a[2] === '=' ? 3 : 2);
  }
  return undefined;
}

const app = appArgument(process.argv.slice(2));
const javascriptApp = app === undefined || /\.[cm]?js$/i.test(app.replace(/:[\w$]+$/, ''));
if (!fromBuild || !javascriptApp || process.env.CELERIAC_TSX === '1') {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(pathToFileURL(fromBuild ? built : join(root, 'src', 'cli', 'main.ts')).href);
