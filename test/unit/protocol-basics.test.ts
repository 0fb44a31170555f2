import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError, MessageMalformedError } from '../../src/errors.js';
import { signatureFromWire, signatureToWire } from '../../src/protocol/signature.js';
import {
  EXCEPTION_STATES,
  isReadyState,
  PROPAGATE_STATES,
  READY_STATES,
} from '../../src/protocol/states.js';
import { parseIsoDate, toNaiveUtcIso, toPythonIso } from '../../src/protocol/time.js';
import { formatIsoUtc, IsoUtcFormatter } from '../../src/serialization/isodate.js';

void describe('states', () => {
  void test('the sets of celery.states', () => {
    assert.deepEqual([...READY_STATES].sort(), ['FAILURE', 'REVOKED', 'SUCCESS']);
    assert.deepEqual([...EXCEPTION_STATES].sort(), ['FAILURE', 'RETRY', 'REVOKED']);
    assert.deepEqual([...PROPAGATE_STATES].sort(), ['FAILURE', 'REVOKED']);
    assert.equal(isReadyState('SUCCESS'), true);
    assert.equal(isReadyState('STARTED'), false);
    assert.equal(isReadyState('RETRY'), false);
  });
});

void describe('time', () => {
  const t = Date.UTC(2030, 0, 2, 3, 4, 5, 678);

  void test('toPythonIso: isoformat() of an aware UTC datetime', () => {
    assert.equal(toPythonIso(t), '2030-01-02T03:04:05.678000+00:00');
    assert.equal(toPythonIso(Date.UTC(2030, 0, 2, 3, 4, 5)), '2030-01-02T03:04:05+00:00');
    assert.equal(toPythonIso(t + 0.901), '2030-01-02T03:04:05.678901+00:00');
    assert.equal(toPythonIso(Date.UTC(999, 0, 1)), '0999-01-01T00:00:00+00:00');
  });

  void test('toNaiveUtcIso: date_done', () => {
    assert.equal(
      toNaiveUtcIso(Date.UTC(2026, 10, 25, 5, 43, 22, 702)),
      '2026-11-25T05:43:22.702000',
    );
  });

  void test('parseIsoDate accepts +00:00, Z, offsets, naive, any fraction', () => {
    const table: [string, number][] = [
      ['2030-01-02T03:04:05.678901+00:00', t + 0.901],
      ['2030-01-02T03:04:05.678Z', t],
      ['2030-01-02T03:04:05.678', t],
      ['2030-01-02T05:04:05.678+02:00', t],
      ['2030-01-02T00:04:05.678-03:00', t],
      ['2030-01-02T05:04:05.678+0200', t],
      ['2030-01-02T03:04:05.6789012345Z', t + 0.901],
      ['2030-01-02 03:04:05', t - 678],
      ['2030-01-02T03:04', t - 5678],
      ['2030-01-02', Date.UTC(2030, 0, 2)],
      ['2020-01-01T00:00:00.000Z', Date.UTC(2020, 0, 1)],
    ];
    for (const [text, expected] of table) assert.equal(parseIsoDate(text), expected, text);
  });

  void test('Python strings round-trip to the microsecond', () => {
    for (const s of [
      '2026-11-25T05:40:53.156518+00:00',
      '2030-01-02T04:04:05.678901+00:00',
      '2026-11-25T05:40:19+00:00',
    ]) {
      assert.equal(toPythonIso(parseIsoDate(s)), s);
    }
  });

  void test('bad dates are a DecodeError naming the string', () => {
    for (const s of ['tomorrow', '2030-02-30T00:00:00', '2030-13-01', '2030-01-01T25:00:00', '']) {
      assert.throws(
        () => parseIsoDate(s),
        (e: unknown) => e instanceof DecodeError && e.message.includes(JSON.stringify(s)),
      );
    }
  });
});

void describe('signatures', () => {
  const wire = {
    task: 'tasks.mul',
    args: [10],
    kwargs: {},
    options: { task_id: 'x' },
    subtask_type: null,
    immutable: false,
  };

  void test('wire → data → wire keeps Celery key order', () => {
    const sig = signatureFromWire(wire);
    assert.deepEqual(sig, {
      task: 'tasks.mul',
      args: [10],
      kwargs: {},
      options: { task_id: 'x' },
      subtaskType: null,
      immutable: false,
    });
    assert.deepEqual(signatureToWire(sig), wire);
    assert.deepEqual(Object.keys(signatureToWire(sig)), [
      'task',
      'args',
      'kwargs',
      'options',
      'subtask_type',
      'immutable',
    ]);
  });

  void test('unknown keys ride in extra; nested canvases stay wire dicts', () => {
    const group = {
      task: 'celery.group',
      args: [],
      kwargs: { tasks: [wire] },
      options: {},
      subtask_type: 'group',
      immutable: false,
      chord_size: 3,
    };
    const sig = signatureFromWire(group);
    assert.equal(sig.subtaskType, 'group');
    assert.deepEqual(sig.extra, { chord_size: 3 });
    assert.deepEqual(sig.kwargs['tasks'], [wire]);
    assert.deepEqual(signatureToWire(sig), group);
  });

  void test('defaults for missing parts', () => {
    assert.deepEqual(signatureFromWire({ task: 't' }), {
      task: 't',
      args: [],
      kwargs: {},
      options: {},
      subtaskType: null,
      immutable: false,
    });
  });

  void test('an already-wire dict passed as data is written unchanged', () => {
    assert.deepEqual(signatureToWire(wire as never), wire);
  });

  void test('malformed signatures say what is wrong', () => {
    const cases: [unknown, RegExp][] = [
      ['x', /signature is not a dict/],
      [null, /signature is not a dict/],
      [{ args: [] }, /no 'task' name/],
      [{ task: 't', args: {} }, /'args' is not a list/],
      [{ task: 't', kwargs: [] }, /'kwargs' is not a dict/],
      [{ task: 't', options: 'x' }, /'options' is not a dict/],
      [{ task: 't', subtask_type: 'nope' }, /unknown subtask_type/],
      [{ task: 't', immutable: 'yes' }, /'immutable' is not a bool/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => signatureFromWire(value),
        (e: unknown) => e instanceof MessageMalformedError && message.test(e.message),
      );
    }
  });
});

void describe('IsoUtcFormatter (date_done with the current second kept)', () => {
  void test('writes what formatIsoUtc writes, across second boundaries and before 1970', () => {
    const formatter = new IsoUtcFormatter();
    const base = Date.UTC(2026, 11, 2, 23, 59, 58);
    const times = [0, -1, -0.0005, 1.5, 999.9995, base, base + 999.999, base + 1000, base + 1000.5];
    for (let i = 0; i < 3000; i++) times.push(base + i * 0.7);
    for (const suffix of ['', '+00:00', 'Z']) {
      for (const ms of [...times, ...times.reverse()]) {
        assert.equal(formatter.format(ms, suffix), formatIsoUtc(ms, suffix), `${ms} ${suffix}`);
      }
    }
  });
});
