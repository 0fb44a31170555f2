/** When a process needs tsx: celeriac from its sources, or a TypeScript app module. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isJavaScriptModule, needsTypeScriptLoader } from '../../src/util/typescript.js';

void describe('needsTypeScriptLoader', () => {
  const built = 'file:///app/node_modules/celeriac/dist/util/typescript.js';
  const source = 'file:///src/celeriac/src/util/typescript.ts';

  void test('a built celeriac: tsx only for a TypeScript app module', () => {
    assert.equal(needsTypeScriptLoader('dist/tasks.js', built, {}), false);
    assert.equal(needsTypeScriptLoader('tasks.mjs:app', built, {}), false);
    assert.equal(needsTypeScriptLoader('C:\\work\\tasks.cjs', built, {}), false);
    assert.equal(needsTypeScriptLoader('tasks.ts', built, {}), true);
    assert.equal(needsTypeScriptLoader('src/tasks.mts:app', built, {}), true);
    assert.equal(
      needsTypeScriptLoader('tasks', built, {}),
      true,
      'no extension: may resolve to .ts',
    );
    assert.equal(needsTypeScriptLoader(undefined, built, {}), false);
  });

  void test('celeriac from its sources always needs it; CELERIAC_TSX=1 forces it', () => {
    assert.equal(needsTypeScriptLoader('tasks.js', source, {}), true);
    assert.equal(needsTypeScriptLoader('tasks.js', built, { CELERIAC_TSX: '1' }), true);
  });

  void test('isJavaScriptModule reads the path before an :attr', () => {
    assert.equal(isJavaScriptModule('tasks.js:celery'), true);
    assert.equal(isJavaScriptModule('tasks.ts:app'), false);
  });
});
