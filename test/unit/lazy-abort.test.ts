/** LazyAbort: an AbortController whose signal is made on demand. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LazyAbort } from '../../src/util/abort.js';

void describe('LazyAbort', () => {
  void test('aborted before the signal is asked for: the signal comes out aborted, with the reason', () => {
    const a = new LazyAbort();
    assert.equal(a.aborted, false);
    const reason = new Error('stop');
    a.abort(reason);
    a.abort(new Error('second call is ignored'));
    assert.equal(a.aborted, true);
    assert.equal(a.signal.aborted, true);
    assert.equal(a.signal.reason, reason);
  });

  void test('a signal made first hears the abort, once; the same signal every time', () => {
    const a = new LazyAbort();
    const signal = a.signal;
    assert.equal(a.signal, signal);
    let heard = 0;
    signal.addEventListener('abort', () => (heard += 1));
    a.abort('why');
    a.abort('again');
    assert.equal(heard, 1);
    assert.equal(signal.reason, 'why');
  });
});
