"""Python Celery app for celeriac's interop tests: the same tasks as the fixtures' ``specapp``.

Run a worker (cwd = this folder, Debian's Celery through /usr/bin/python3)::

    CELERY_BROKER_URL=redis://127.0.0.1:6379/0 /usr/bin/python3 -m celery -A pyapp worker -l INFO

Settings from the environment:
  CELERY_BROKER_URL      broker URL (default redis://127.0.0.1:6379/0)
  CELERY_RESULT_BACKEND  result backend URL (default: the broker URL when it is Redis, else rpc://)
  PYAPP_CONF_JSON        extra Celery settings as a JSON object, e.g.
                         {"result_extended": true, "accept_content": ["json", "msgpack"]}
"""
import json
import os
import time

from celery import Celery
from celery.exceptions import Reject

broker = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
backend = os.environ.get("CELERY_RESULT_BACKEND") or (
    broker if broker.startswith(("redis://", "rediss://")) else "rpc://"
)

# Celery's defaults otherwise (json only, UTC), as in the worker that produced the fixtures.
app = Celery("pyapp", broker=broker, backend=backend)
app.conf.update(json.loads(os.environ.get("PYAPP_CONF_JSON") or "{}"))


class SpecError(Exception):
    """A user-defined exception (the fixtures' specapp.SpecError; here its module is pyapp)."""


@app.task(name="tasks.add")
def add(x, y):
    return x + y


@app.task(name="tasks.mul")
def mul(x, y):
    return x * y


@app.task(name="tasks.xsum")
def xsum(numbers):
    return sum(numbers)


@app.task(name="tasks.echo")
def echo(*args, **kwargs):
    return {"args": list(args), "kwargs": kwargs}


@app.task(name="tasks.fail")
def fail(msg):
    raise ValueError(msg)


@app.task(name="tasks.fail_custom")
def fail_custom(a, b):
    raise SpecError(a, b)


@app.task(name="tasks.retry_once", bind=True)
def retry_once(self, x):
    if self.request.retries == 0:
        raise self.retry(exc=RuntimeError("transient failure"), countdown=1)
    return x


@app.task(name="tasks.on_error")
def on_error(task_id):
    """Old-style errback: called with the failed task's id."""
    return task_id


@app.task(name="tasks.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@app.task(name="tasks.reject")
def reject():
    raise Reject("rejected by tasks.reject", requeue=False)


@app.task(name="tasks.reject_late", acks_late=True)
def reject_late():
    raise Reject("rejected by tasks.reject_late", requeue=False)


@app.task(name="tasks.noresult", ignore_result=True)
def noresult(x):
    return x
