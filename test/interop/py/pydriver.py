"""Drives Python Celery (the pyapp module beside this file) for celeriac's interop tests.

Each command prints exactly one JSON document on stdout (the last line); logs go to stderr.
Broker and backend come from CELERY_BROKER_URL / CELERY_RESULT_BACKEND (see pyapp.py).
Exit code 0 when the command itself worked (a task failing is a normal outcome of `get`),
2 on bad usage, 1 on any other error (message on stderr).

  send TASK [--args JSON] [--kwargs JSON] [--countdown S] [--eta ISO] [--expires S|ISO]
            [--priority N] [--queue Q] [--task-id ID] [--serializer S] [--compression C]
            [--headers JSON] [--link SIG] [--link-error SIG] [--ignore-result] [--by-name]
      -> {"id": "<task id>"}
  send-many TASK --args-list JSON [--queue Q] [--priority N]
      -> {"ids": [...]}: one apply_async per element of the JSON list of argument lists
  get ID [--timeout S]
      -> {"id", "state", "result", "exc_type", "exc_module", "exc_message", "exc_args", "traceback"}
  wait-all ID... [--timeout S]
      -> {"results": [<get output>, ...]}
  meta ID
      -> the meta as stored by the backend ({"status", "result", "traceback", ...}), null if none
  inspect CMD [--timeout S] [--destination NAME]... [--args JSON] [--limit N]
      -> the replies, {"<worker>": <reply>} ({} when no worker answered)
  control CMD [--args JSON] [--timeout S] [--destination NAME]... [--no-reply] [--limit N]
      -> {"replies": [{"<worker>": <reply>}, ...]}
  revoke ID [--terminate] [--signal SIG]
      -> {"revoked": "<id>"}
  chain SIG SIG... / group SIG... / chord SIG... --body SIG    (SIG = JSON below)
      -> chain: {"id": <last task id>, "ids": [<first>, ..., <last>]}
         group: {"id": <group id>, "ids": [...]}; chord: {"id": <body id>, "group_id", "ids": [...]}
  apply DICT [--args JSON]
      -> any canvas in Celery's dict form (what celeriac's sig.toDict() writes), rebuilt with
         celery.signature(dict) and applied: {"id", "group": false} for one result (its
         parents' ids in "parents"), {"id", "group": true, "ids": [...]} for a GroupResult
  ping [--timeout S] [--destination NAME]... [--limit N]
      -> {"replies": [{"<worker>": {"ok": "pong"}}, ...]} (app.control.ping)
  serve
      -> a session: one request a line on stdin, {"argv": ["send", "tasks.add", ...]}, one answer
         a line on stdout, {"ok": true, "result": <what the command prints>} or
         {"ok": false, "error": "..."}; ends at end of input. Saves Celery's start-up per call.

inspect, control and ping wait the whole --timeout unless --limit N replies arrive first.

SIG is a JSON object: {"task": "tasks.add", "args": [1, 2], "kwargs": {}, "options": {},
"immutable": false}.
"""
import argparse
import json
import sys
import traceback


def dump(value):
    sys.stdout.write(json.dumps(value, default=repr) + "\n")
    sys.stdout.flush()


def load_json(text, what):
    try:
        return json.loads(text)
    except ValueError as e:
        raise SystemExit("pydriver: %s is not JSON (%s): %r" % (what, e, text))


def signature(app, spec):
    from celery import signature as make

    if isinstance(spec, str):
        spec = load_json(spec, "signature")
    sig = make(
        spec["task"],
        args=tuple(spec.get("args") or ()),
        kwargs=spec.get("kwargs") or {},
        options=spec.get("options") or {},
        app=app,
    )
    if spec.get("immutable"):
        sig = sig.set(immutable=True)
    return sig


def describe_result(app, task_id, timeout):
    """Waits like AsyncResult.get() does and reports the outcome, including the exception raised."""
    from celery.result import AsyncResult

    r = AsyncResult(task_id, app=app)
    out = {
        "id": task_id,
        "state": None,
        "result": None,
        "exc_type": None,
        "exc_module": None,
        "exc_message": None,
        "exc_args": None,
        "traceback": None,
    }
    try:
        out["result"] = r.get(timeout=timeout, interval=0.05)
    except Exception as e:  # the exception Python Celery raises on the client side is the point
        out["exc_type"] = type(e).__name__
        out["exc_module"] = type(e).__module__
        out["exc_message"] = str(e)
        out["exc_args"] = list(e.args)
    out["state"] = r.state
    out["traceback"] = r.traceback
    return out


def raw_meta(app, task_id):
    """The meta exactly as stored (key-value backends), else as the backend decodes it; None if absent."""
    backend = app.backend
    if hasattr(backend, "get_key_for_task"):
        raw = backend.get(backend.get_key_for_task(task_id))
        return json.loads(raw) if raw else None
    return backend.get_task_meta(task_id)


def parse_eta(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cmd_send(app, a):
    opts = {}
    if a.countdown is not None:
        opts["countdown"] = a.countdown
    if a.eta:
        opts["eta"] = parse_eta(a.eta)
    if a.expires:
        try:
            opts["expires"] = float(a.expires)
        except ValueError:
            opts["expires"] = parse_eta(a.expires)
    for name in ("priority", "queue", "task_id", "serializer", "compression"):
        value = getattr(a, name)
        if value is not None:
            opts[name] = value
    if a.headers:
        opts["headers"] = load_json(a.headers, "--headers")
    if a.link:
        opts["link"] = [signature(app, s) for s in a.link]
    if a.link_error:
        opts["link_error"] = [signature(app, s) for s in a.link_error]
    if a.ignore_result:
        opts["ignore_result"] = True
    args = load_json(a.args, "--args") if a.args else []
    kwargs = load_json(a.kwargs, "--kwargs") if a.kwargs else {}
    task = None if a.by_name else app.tasks.get(a.task)
    if task is not None:
        r = task.apply_async(args=args, kwargs=kwargs, **opts)
    else:
        r = app.send_task(a.task, args=args, kwargs=kwargs, **opts)
    return {"id": r.id}


def cmd_send_many(app, a):
    """One apply_async per argument list, in order; the ids in the same order."""
    opts = {}
    for name in ("queue", "priority"):
        value = getattr(a, name)
        if value is not None:
            opts[name] = value
    arg_lists = load_json(a.args_list, "--args-list")
    task = app.tasks.get(a.task)
    if task is not None:
        return {"ids": [task.apply_async(args=args, **opts).id for args in arg_lists]}
    return {"ids": [app.send_task(a.task, args=args, **opts).id for args in arg_lists]}


def cmd_inspect(app, a):
    insp = app.control.inspect(destination=a.destination or None, timeout=a.timeout, limit=a.limit)
    method = getattr(insp, a.command.replace("-", "_"), None)
    args = load_json(a.args, "--args") if a.args else {}
    if method is None:
        replies = insp._request(a.command, **args)
    else:
        replies = method(**args)
    return replies or {}


def cmd_control(app, a):
    args = load_json(a.args, "--args") if a.args else {}
    replies = app.control.broadcast(
        a.command,
        arguments=args,
        destination=a.destination or None,
        reply=not a.no_reply,
        timeout=a.timeout,
        limit=a.limit,
    )
    return {"replies": replies or []}


def cmd_canvas(app, a):
    from celery import chain, chord, group

    sigs = [signature(app, s) for s in a.sigs]
    if a.command == "chain":
        r = chain(*sigs).apply_async()
        ids = []
        node = r
        while node is not None:
            ids.append(node.id)
            node = node.parent
        return {"id": r.id, "ids": list(reversed(ids))}
    elif a.command == "group":
        r = group(sigs).apply_async()
        return {"id": r.id, "ids": [c.id for c in r.results]}
    else:
        if not a.body:
            raise SystemExit("pydriver: chord needs --body SIG")
        r = chord(sigs)(signature(app, a.body))
        header = r.parent
        return {
            "id": r.id,
            "group_id": header.id if header is not None else None,
            "ids": [c.id for c in header.results] if header is not None else [],
        }


def cmd_apply(app, a):
    """Rebuilds a canvas from its dict form and applies it, as a Python client would."""
    from celery import signature as make
    from celery.result import GroupResult

    sig = make(load_json(a.dict, "canvas dict"), app=app)
    args = tuple(load_json(a.args, "--args")) if a.args else ()
    r = sig.apply_async(args)
    if isinstance(r, GroupResult):
        return {"id": r.id, "group": True, "ids": [c.id for c in r.results]}
    parents = []
    node = r.parent
    while node is not None:
        parents.append(node.id)
        node = node.parent
    return {"id": r.id, "group": False, "parents": parents}


class UsageError(Exception):
    """Bad command line (exit code 2; an error answer in serve mode)."""


class DriverParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError("%s: %s" % (self.prog, message))


def build_parser():
    p = DriverParser(prog="pydriver", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("send")
    s.add_argument("task")
    s.add_argument("--args")
    s.add_argument("--kwargs")
    s.add_argument("--countdown", type=float)
    s.add_argument("--eta")
    s.add_argument("--expires")
    s.add_argument("--priority", type=int)
    s.add_argument("--queue")
    s.add_argument("--task-id", dest="task_id")
    s.add_argument("--serializer")
    s.add_argument("--compression")
    s.add_argument("--headers")
    s.add_argument("--link", action="append")
    s.add_argument("--link-error", dest="link_error", action="append")
    s.add_argument("--ignore-result", dest="ignore_result", action="store_true")
    s.add_argument("--by-name", dest="by_name", action="store_true")

    sm = sub.add_parser("send-many")
    sm.add_argument("task")
    sm.add_argument("--args-list", dest="args_list", required=True)
    sm.add_argument("--queue")
    sm.add_argument("--priority", type=int)

    g = sub.add_parser("get")
    g.add_argument("id")
    g.add_argument("--timeout", type=float, default=10.0)

    w = sub.add_parser("wait-all")
    w.add_argument("ids", nargs="+")
    w.add_argument("--timeout", type=float, default=10.0)

    m = sub.add_parser("meta")
    m.add_argument("id")

    i = sub.add_parser("inspect")
    i.add_argument("command")
    i.add_argument("--timeout", type=float, default=1.0)
    i.add_argument("--destination", action="append")
    i.add_argument("--args")
    i.add_argument("--limit", type=int, help="stop waiting after this many replies")

    c = sub.add_parser("control")
    c.add_argument("command")
    c.add_argument("--args")
    c.add_argument("--timeout", type=float, default=1.0)
    c.add_argument("--destination", action="append")
    c.add_argument("--no-reply", dest="no_reply", action="store_true")
    c.add_argument("--limit", type=int, help="stop waiting after this many replies")

    r = sub.add_parser("revoke")
    r.add_argument("id")
    r.add_argument("--terminate", action="store_true")
    r.add_argument("--signal", default="SIGTERM")

    for name in ("chain", "group", "chord"):
        k = sub.add_parser(name)
        k.add_argument("sigs", nargs="+")
        k.add_argument("--body")

    ap = sub.add_parser("apply")
    ap.add_argument("dict")
    ap.add_argument("--args")

    pg = sub.add_parser("ping")
    pg.add_argument("--timeout", type=float, default=1.0)
    pg.add_argument("--destination", action="append")
    pg.add_argument("--limit", type=int, help="stop waiting after this many replies")

    sub.add_parser("serve")
    return p


def run(app, a):
    """Runs one parsed command and returns its JSON-able result."""
    if a.cmd == "send":
        return cmd_send(app, a)
    if a.cmd == "send-many":
        return cmd_send_many(app, a)
    if a.cmd == "get":
        return describe_result(app, a.id, a.timeout)
    if a.cmd == "wait-all":
        return {"results": [describe_result(app, i, a.timeout) for i in a.ids]}
    if a.cmd == "meta":
        return raw_meta(app, a.id)
    if a.cmd == "inspect":
        return cmd_inspect(app, a)
    if a.cmd == "control":
        return cmd_control(app, a)
    if a.cmd == "revoke":
        app.control.revoke(a.id, terminate=a.terminate, signal=a.signal)
        return {"revoked": a.id}
    if a.cmd in ("chain", "group", "chord"):
        a.command = a.cmd
        return cmd_canvas(app, a)
    if a.cmd == "apply":
        return cmd_apply(app, a)
    if a.cmd == "ping":
        replies = app.control.ping(destination=a.destination or None, timeout=a.timeout, limit=a.limit)
        return {"replies": replies or []}
    raise SystemExit("pydriver: unknown command %r" % a.cmd)


def serve(app, parser):
    """One JSON request a line on stdin ({"argv": [...]}), one JSON answer a line on stdout:
    {"ok": true, "result": ...} or {"ok": false, "error": "..."}. Ends at end of input."""
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the real stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            argv = json.loads(line)["argv"]
            answer = {"ok": True, "result": run(app, parser.parse_args(argv))}
        except (UsageError, SystemExit) as e:
            answer = {"ok": False, "error": "usage: %s" % (e,)}
        except Exception as e:
            traceback.print_exc()
            answer = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(answer, default=repr) + "\n")
        out.flush()
    return 0


def main(argv):
    parser = build_parser()
    a = parser.parse_args(argv)
    from pyapp import app

    if a.cmd == "serve":
        return serve(app, parser)
    dump(run(app, a))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except UsageError as e:
        sys.stderr.write("%s\n" % e)
        sys.exit(2)
    except SystemExit:
        raise
    except Exception:
        traceback.print_exc()
        sys.exit(1)
