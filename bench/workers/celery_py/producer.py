"""Producer side of Python Celery for the celeriac benchmark (bench/adapters/celery-py.ts).

Reads one JSON request per line on stdin ({"id": n, "op": ..., ...}) and answers one JSON line
on stdout ({"id": n, "ok": true, ...} or {"id": n, "ok": false, "error": "..."}). The timed loops
run here, in Python, as a Celery user's code would.

Ops: open, enqueue {n, mode}, completed, verify {k}, e2e {n, mode, timeoutMs},
latency {n, warmup, timeoutMs}, probe {timeoutMs}, close.
Modes: "one" = add.delay() per task; "batch" = group(add.s(...) x batch).apply_async().
"""
import json
import os
import random
import sys
import time

META = "celery-task-meta-"
BATCH = int(os.environ.get("BENCH_BATCH", "1000"))


class Session:
    def __init__(self):
        import redis
        from bench_app import add, app

        self.app, self.add = app, add
        self.redis = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"])
        self.ids = []
        self.done = 0
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=3)

    def send(self, n, mode, base=0):
        from celery import group

        if mode == "one":
            return [self.add.delay(base + i, base + i) for i in range(n)]
        if mode == "batch":
            out = []
            for i in range(0, n, BATCH):
                m = min(BATCH, n - i)
                res = group(self.add.s(base + i + j, base + i + j) for j in range(m)).apply_async()
                out.extend(res.results)
            return out
        raise ValueError("mode %r: Celery has 'one' and 'batch'" % mode)

    def completed(self):
        """Stored results among the last enqueue's ids, resuming where the last call stopped."""
        while self.done < len(self.ids):
            win = self.ids[self.done:self.done + 256]
            c = self.redis.exists(*[META + i for i in win])
            if c < len(win):
                return self.done + c
            self.done += len(win)
        return self.done

    def handle(self, op, msg):
        if op == "enqueue":
            t0 = time.perf_counter()
            rs = self.send(msg["n"], msg["mode"])
            secs = time.perf_counter() - t0
            self.ids, self.done = [r.id for r in rs], 0
            return {"secs": secs}
        if op == "completed":
            return {"count": self.completed()}
        if op == "verify":
            bad = 0
            k = msg.get("k", 20)
            for _ in range(k):
                i = random.randrange(len(self.ids))
                meta = json.loads(self.redis.get(META + self.ids[i]))
                if meta.get("status") != "SUCCESS" or meta.get("result") != 2 * i:
                    bad += 1
            return {"checked": k, "bad": bad}
        if op == "e2e":
            from celery.result import ResultSet

            n, base = msg["n"], 1000000
            t0 = time.perf_counter()
            rs = self.send(n, msg["mode"], base)
            t_sent = time.perf_counter()
            values = ResultSet(rs).get(timeout=msg["timeoutMs"] / 1000.0)
            t1 = time.perf_counter()
            bad = sum(1 for i, v in enumerate(values) if v != 2 * (base + i))
            return {"secs": t1 - t0, "sendSecs": t_sent - t0, "bad": bad}
        if op == "latency":
            timeout = msg["timeoutMs"] / 1000.0
            warm = msg.get("warmup", 0)
            ms = []
            for i in range(warm + msg["n"]):
                t = time.perf_counter()
                v = self.add.delay(i, 1).get(timeout=timeout)
                dt = (time.perf_counter() - t) * 1000.0
                if v != i + 1:
                    raise RuntimeError("add(%d, 1) returned %r" % (i, v))
                if i >= warm:
                    ms.append(dt)
            return {"ms": ms}
        if op == "probe":
            v = self.add.delay(20, 22).get(timeout=msg["timeoutMs"] / 1000.0)
            if v != 42:
                raise RuntimeError("probe: add(20, 22) returned %r" % (v,))
            return {}
        raise ValueError("unknown op %r" % op)


def main():
    session = None
    for line in sys.stdin:
        msg = json.loads(line)
        mid, op = msg["id"], msg["op"]
        try:
            if op == "open":
                session = Session()
                reply = {}
            elif op == "close":
                sys.stdout.write(json.dumps({"id": mid, "ok": True}) + "\n")
                sys.stdout.flush()
                return
            else:
                reply = session.handle(op, msg)
            reply.update(id=mid, ok=True)
        except Exception as e:  # report and keep serving
            reply = {"id": mid, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
