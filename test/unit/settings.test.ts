import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Celery, ConfigError } from '../../src/index.js';
import { NOT_YET, renderCompatibility } from '../../scripts/gen-compat.js';
import { SETTINGS } from '../../src/app/settings.js';

describe('settings', () => {
  test('camelCase and Python names are accepted, with defaults filled in', () => {
    const app = new Celery('t', { taskAcksLate: false, broker: 'memory://' });
    app.configure({ result_expires: 60 });
    assert.equal(app.conf.taskAcksLate, false);
    assert.equal(app.conf.resultExpires, 60);
    assert.equal(app.conf.taskDefaultQueue, 'celery');
    assert.equal(app.conf.workerPrefetchMultiplier, 1);
  });

  test('an unknown setting names itself and suggests the right one', () => {
    assert.throws(
      () => new Celery('t', { taskAckLate: true } as never),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.code === 'CONFIG_UNKNOWN_KEY' &&
        /Unknown setting 'taskAckLate'/.test(error.message) &&
        /did you mean 'taskAcksLate'/.test(error.message),
    );
  });

  test('a value of the wrong type names the setting and what it expects', () => {
    assert.throws(
      () => new Celery('t', { resultExpires: 'soon' } as never),
      /Setting 'resultExpires' has a bad value "soon": expected a non-negative number/,
    );
    assert.throws(
      () => new Celery('t', { taskSerializer: 'pickle' } as never),
      /expected one of 'json', 'msgpack'/,
    );
  });

  test('an unparsable broker URL fails with the setting named and examples of good ones', () => {
    const app = new Celery('t', { broker: 'localhost:6379' });
    assert.throws(
      () => app.validate(),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.code === 'URL_INVALID' &&
        /brokerUrl 'localhost:6379'/.test(error.message) &&
        /redis:\/\//.test(error.message),
    );
  });

  test('the environment overrides the app settings, the CLI overrides both', () => {
    const env = {
      CELERY_BROKER_URL: 'redis://env:6379/0',
      CELERY_RESULT_BACKEND: 'redis://env:6379/1',
    };
    const app = new Celery('t', { broker: 'memory://' }, { env });
    assert.equal(app.brokerUrl, 'redis://env:6379/0');
    assert.equal(app.backendUrl, 'redis://env:6379/1');
    app.overrideUrls({ broker: 'sqlite:///x.db' });
    assert.equal(app.brokerUrl, 'sqlite:///x.db');
  });

  test('with nothing configured, the embedded SQLite file is used for both', () => {
    const app = new Celery('t', {}, { env: {} });
    assert.equal(app.brokerUrl, 'sqlite:///.celeriac/celeriac.db');
    assert.equal(app.backendUrl, 'sqlite:///.celeriac/celeriac.db');
  });

  test('no setting is listed both as supported and as not yet', () => {
    const supported = new Set(Object.values(SETTINGS).map((s) => s.python));
    assert.deepEqual(
      Object.keys(NOT_YET).filter((name) => supported.has(name)),
      [],
    );
  });

  test('docs/compatibility.md is up to date (node --import tsx scripts/gen-compat.ts)', () => {
    const onDisk = readFileSync(new URL('../../docs/compatibility.md', import.meta.url), 'utf8');
    assert.equal(onDisk, renderCompatibility());
  });
});
