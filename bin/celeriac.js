#!/usr/bin/env node
// The CLI entry. tsx is registered first so that -A can load a user's .ts module, and so that
// the TypeScript sources run directly when no build exists: `npx celeriac` works in a fresh
// clone right after `npm install`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
const { register } = await import('tsx/esm/api');
register();
if (existsSync(built) && !process.env.CELERIAC_FROM_SOURCE) {
  await import(pathToFileURL(built).href);
} else {
  await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
}
