"""Python Celery app of the benchmark: tasks.add(x, y) -> x + y, Redis broker and result backend.

Used by the worker (``python3 -m celery -A bench_app worker``) and by producer.py alike.
BENCH_REDIS_URL names the Redis (default redis://127.0.0.1:6379/0).
"""
import os

from celery import Celery

URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
app = Celery("bench_app", broker=URL, backend=URL)


@app.task(name="tasks.add")
def add(x, y):
    return x + y
