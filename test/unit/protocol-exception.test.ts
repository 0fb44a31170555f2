import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ChordError,
  ConfigError,
  DecodeError,
  MaxRetriesExceededError,
  NotRegistered,
  RemoteTaskError,
  SoftTimeLimitExceeded,
  TaskRevokedError,
  TimeLimitExceeded,
  WorkerLostError,
} from '../../src/errors.js';
import {
  errorFromExceptionInfo,
  exceptionInfoFromError,
  exceptionInfoFromWire,
  exceptionInfoToWire,
  exceptionRepr,
} from '../../src/protocol/exception.js';
import type { ExceptionInfo } from '../../src/protocol/types.js';
import { jsonLoads } from '../../src/serialization/json.js';
import { loadFixture, type Json } from '../support/fixtures.js';

/** The exception dicts Python stored in a result fixture, in write order. */
function storedExceptions(file: string): Json[] {
  const writes = loadFixture(file)['result_writes_in_order'] as Json[];
  return writes.map((w) => (jsonLoads(String(w['raw'])) as Json)['result'] as Json);
}

const info = (excType: string, excModule: string, excMessage: unknown[]): ExceptionInfo => ({
  excType,
  excModule,
  excMessage,
});

void describe('exceptionInfoFromError: JS errors map to Python builtins that fit', () => {
  class SpecError extends Error {}
  class ValidationError extends Error {
    override name = 'ValidationError';
  }
  const enoent = Object.assign(new Error('no such file'), { code: 'ENOENT' });
  const cases: [string, unknown, ExceptionInfo][] = [
    ['Error', new Error('boom'), info('Exception', 'builtins', ['boom'])],
    ['TypeError', new TypeError('t'), info('TypeError', 'builtins', ['t'])],
    ['RangeError', new RangeError('r'), info('ValueError', 'builtins', ['r'])],
    ['SyntaxError (JSON.parse)', new SyntaxError('s'), info('ValueError', 'builtins', ['s'])],
    [
      'ReferenceError',
      new ReferenceError('x is not defined'),
      info('NameError', 'builtins', ['x is not defined']),
    ],
    ['EvalError', new EvalError('e'), info('RuntimeError', 'builtins', ['e'])],
    ['Node ENOENT', enoent, info('FileNotFoundError', 'builtins', ['no such file'])],
    ['empty message', new Error(''), info('Exception', 'builtins', [])],
    ['subclass without a name', new SpecError('a'), info('SpecError', 'celeriac.tasks', ['a'])],
    [
      'subclass with a name',
      new ValidationError('v'),
      info('ValidationError', 'celeriac.tasks', ['v']),
    ],
    [
      'error with args',
      Object.assign(new ValidationError('a, 2'), { args: ['a', 2] }),
      info('ValidationError', 'celeriac.tasks', ['a', 2]),
    ],
    [
      'error naming its Python class',
      Object.assign(new Error('k'), { excType: 'KeyError', excModule: 'builtins' }),
      info('KeyError', 'builtins', ['k']),
    ],
    ['a thrown string', 'boom', info('Exception', 'builtins', ['boom'])],
    ['a thrown object', { code: 7 }, info('Exception', 'builtins', [{ code: 7 }])],
  ];
  for (const [name, err, expected] of cases) {
    void test(name, () => assert.deepEqual(exceptionInfoFromError(err), expected));
  }

  void test('args Python could not read from JSON become their repr', () => {
    const err = Object.assign(new Error('x'), { args: [1, () => 1, Buffer.from('b'), NaN] });
    assert.deepEqual(exceptionInfoFromError(err).excMessage, [
      1,
      '<function <anonymous>>',
      "b'b'",
      'nan',
    ]);
  });
});

void describe('celeriac errors map to the classes Celery uses', () => {
  void test('NotRegistered: exactly what result_not_registered stored', () => {
    const [stored] = storedExceptions('result_not_registered');
    assert.deepEqual(
      exceptionInfoToWire(exceptionInfoFromError(new NotRegistered('tasks.does_not_exist'))),
      stored,
    );
  });

  void test('TaskRevokedError: revoked / expired / terminated as in result_revoked', () => {
    const stored = storedExceptions('result_revoked');
    const ours = ['revoked', 'expired', 'terminated', 'revoked'].map((r) =>
      exceptionInfoToWire(exceptionInfoFromError(new TaskRevokedError(r))),
    );
    assert.deepEqual(ours, stored);
  });

  void test('ChordError, with the message Celery builds from the failed dependency', () => {
    const writes = loadFixture('worker_chord_failure')[
      'result_and_chord_commands_in_order'
    ] as unknown[][];
    const body = writes.find((c) => c[0] === 'SETEX' && String(c[3]).includes('ChordError'));
    assert.ok(body);
    const stored = (jsonLoads(String(body[3])) as Json)['result'];
    const failedId = '47eb522c-db10-4b83-a227-8af50fefc1cc';
    const message = `Dependency ${failedId} raised ${exceptionRepr(info('ValueError', 'builtins', ['header-boom']))}`;
    assert.deepEqual(exceptionInfoToWire(exceptionInfoFromError(new ChordError(message))), stored);
  });

  void test('time limits and worker loss live in billiard.exceptions', () => {
    assert.deepEqual(
      exceptionInfoFromError(new TimeLimitExceeded(30)),
      info('TimeLimitExceeded', 'billiard.exceptions', [30]),
    );
    assert.deepEqual(
      exceptionInfoFromError(new SoftTimeLimitExceeded(2.5)),
      info('SoftTimeLimitExceeded', 'billiard.exceptions', [2.5]),
    );
    assert.deepEqual(
      exceptionInfoFromError(new WorkerLostError('Worker exited prematurely')),
      info('WorkerLostError', 'billiard.exceptions', ['Worker exited prematurely']),
    );
  });

  void test('others: MaxRetriesExceededError, kombu errors, and the rest under celeriac.errors', () => {
    assert.deepEqual(
      exceptionInfoFromError(new MaxRetriesExceededError("Can't retry")),
      info('MaxRetriesExceededError', 'celery.exceptions', ["Can't retry"]),
    );
    assert.deepEqual(
      exceptionInfoFromError(new DecodeError('bad', { hint: 'fix it' })),
      info('DecodeError', 'kombu.exceptions', ['bad']),
    );
    assert.deepEqual(
      exceptionInfoFromError(new ConfigError('x', { hint: 'y' })),
      info('ConfigError', 'celeriac.errors', ['x']),
    );
  });
});

void describe('round trips through the wire', () => {
  void test('a Python failure (SpecError("a", 2)) becomes a RemoteTaskError and maps back unchanged', () => {
    const stored = storedExceptions('result_failure')[1]!;
    const parsed = exceptionInfoFromWire(stored);
    assert.deepEqual(parsed, info('SpecError', 'specapp', ['a', 2]));
    const err = errorFromExceptionInfo(parsed, { taskId: 't1', traceback: 'Traceback...' });
    assert.ok(err instanceof RemoteTaskError);
    assert.equal(err.name, 'SpecError');
    assert.equal(err.message, 'a, 2');
    assert.deepEqual(err.excArgs, ['a', 2]);
    assert.equal(err.taskId, 't1');
    assert.equal(err.remoteTraceback, 'Traceback...');
    assert.deepEqual(exceptionInfoToWire(exceptionInfoFromError(err)), stored);
    assert.deepEqual(Object.keys(exceptionInfoToWire(parsed)), [
      'exc_type',
      'exc_message',
      'exc_module',
    ]);
  });

  void test('old data: a string exc_message, a missing exc_module', () => {
    assert.deepEqual(
      exceptionInfoFromWire({ exc_type: 'ValueError', exc_message: 'boom' }),
      info('ValueError', '', ['boom']),
    );
    assert.deepEqual(exceptionInfoToWire(info('ValueError', '', ['boom'])), {
      exc_type: 'ValueError',
      exc_message: ['boom'],
      exc_module: null,
    });
  });

  void test('not an exception dict', () => {
    for (const v of [null, 5, 'x', [], { exc_type: 3 }, { result: 1 }])
      assert.equal(exceptionInfoFromWire(v), null);
  });

  void test('exceptionRepr is Python repr of the exception', () => {
    assert.equal(exceptionRepr(info('SpecError', 'specapp', ['a', 2])), "SpecError('a', 2)");
    assert.equal(exceptionRepr(info('Ignore', 'celery.exceptions', [])), 'Ignore()');
  });
});
