"""The checker: grades a notebook's exercises from its code, in a fresh process, not from what its kernel printed.

`dcgan grade` runs this module as `python -m dcgan_lib.checker` with a job on stdin (the notebook's code cells and
the exercises to grade) and reads one JSON verdict per exercise back. In order, it:

1. imports `dcgan_lib.exercises` (and the modules its checks use) before any student code, and snapshots the
   objects the checks' behaviour hangs on: every global of the course's modules, each function's code, defaults
   and closure, and the namespaces of `builtins`, `torch`, `torch.nn(.functional)` and the tensor and module
   classes;
2. builds the student's functions from the code cells, keeping only these top-level statements (after IPython
   turns magics into Python): imports, `def` and `class`, and assignments to plain names of a literal value
   (`ast.literal_eval`) or of one call of an imported name with literal arguments (`bce = nn.BCEWithLogitsLoss()`,
   which exercise 3's own notebook uses). Everything else (other calls, loops, training runs, monkeypatching,
   the check calls themselves) is dropped;
3. for each exercise, forks a child that evaluates the arguments of the notebook's last call of that check, calls
   the check snapshotted in step 1, then compares the snapshot with what is there now: any replaced object
   fails the exercise with "the submission changed the checker's code". The child has a time limit and reports
   through a pipe.

What this protects against: pass lines printed by the student's code, top-level monkeypatching of the checks or
of torch, a wrong answer that only passed because of notebook state, and replacing checker functions from
inside a function body. What it does not: Python has no in-process sandbox, so a function the check calls runs
with the checker's rights and can still, with deliberate effort, fake a verdict (write to the result pipe and
exit, or change an object the snapshot does not cover), read files and start processes. `--isolate` limits
what such code can reach (see `sandbox.py`); only an exam with the checks run on another machine is out of reach.
"""

from __future__ import annotations

import dcgan_lib.exercises as exercises  # first: snapshot the checks before any student code exists in this process

import __future__
import ast
import builtins
import copy
import functools
import inspect
import json
import math
import numbers
import os
import re
import select
import signal
import sys
import time
import types
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional
from torch import nn

from dcgan_lib import architecture, data, faces, latent, models, probes, toy  # noqa: F401 - imported lazily by checks

DROPPED_HINT = ("the grader keeps only imports, def, class and assignments of constants at the top level of a "
                "notebook: create it inside your function")
_MISSING = object()


# ------------------------------------------------------------------------------------- which statements run


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _plain_names(target: ast.AST) -> bool:
    """`x`, `a, b` or `[a, *rest]`: targets that bind names, not attributes or items of other objects."""
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, ast.Starred):
        return _plain_names(target.value)
    return isinstance(target, (ast.Tuple, ast.List)) and all(_plain_names(t) for t in target.elts)


def _imported_call(node: ast.AST, imported: set[str]) -> bool:
    """`nn.BCEWithLogitsLoss()` or `torch.tensor([1.0, 2.0])`: one call of an imported name, through public
    attributes only, with literal arguments (so no other object of the notebook can be reached through it)."""
    if not isinstance(node, ast.Call):
        return False
    f, parts = node.func, []
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    return (isinstance(f, ast.Name) and f.id in imported and not any(p.startswith("_") for p in parts)
            and all(_is_literal(a) for a in node.args)
            and all(k.arg is not None and _is_literal(k.value) for k in node.keywords))


def _imported_names(tree: ast.Module) -> set[str]:
    names = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            names |= {a.asname or a.name.split(".")[0] for a in stmt.names}
        elif isinstance(stmt, ast.ImportFrom):
            names |= {a.asname or a.name for a in stmt.names if a.name != "*"}
    return names


def _kept(stmt: ast.stmt, imported: set[str]) -> ast.stmt | None:
    """The statement as the checker runs it, or None if it is dropped."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return stmt
    value = getattr(stmt, "value", None)
    ok = value is not None and (_is_literal(value) or _imported_call(value, imported))
    if isinstance(stmt, ast.Assign) and ok and all(_plain_names(t) for t in stmt.targets):
        return stmt
    if isinstance(stmt, ast.AnnAssign) and ok and isinstance(stmt.target, ast.Name):  # the annotation is not run
        return ast.copy_location(ast.Assign(targets=[stmt.target], value=stmt.value), stmt)
    return None


def _bound_names(stmt: ast.stmt) -> set[str]:
    """Names a (dropped) top-level statement would have set, for explaining a NameError."""
    names = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names |= {n.name for n in ast.walk(stmt) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    names |= {a.asname or a.name.split(".")[0] for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))
              for a in n.names}
    return names


def parse_cells(sources: list[str]) -> list[ast.Module | None]:
    """Each code cell as a Python module, magics turned into calls as IPython does (None: not valid Python)."""
    from IPython.core.inputtransformer2 import TransformerManager

    trees = []
    for src in sources:
        try:
            trees.append(ast.parse(TransformerManager().transform_cell(src)))
        except (SyntaxError, ValueError):
            trees.append(None)
    return trees


def split_statements(trees: list[ast.Module | None]) -> tuple[list[tuple[int, ast.stmt]], dict[str, str]]:
    """The top-level statements the checker runs, as (cell number, statement), and for each name that only a
    dropped statement sets, where: "cell 4: `helper = make_helper()`"."""
    imported = set().union(*(_imported_names(t) for t in trees if t is not None))
    kept, dropped = [], {}
    for k, tree in enumerate(trees, 1):
        for stmt in tree.body if tree is not None else []:
            run = _kept(stmt, imported)
            if run is not None:
                kept.append((k, run))
            else:
                line = ast.unparse(stmt).splitlines()[0]
                where = f"cell {k}: `{line[:60]}{'...' if len(line) > 60 else ''}`"
                dropped.update({name: where for name in _bound_names(stmt)})
    return kept, dropped


def last_calls(trees: list[ast.Module | None], names: set[str]) -> dict[str, ast.Call]:
    """For each check name, the notebook's last call of it (`check_value(value)` or `ex.check_value(value)`)."""
    calls: dict[str, ast.Call] = {}
    for tree in trees:
        if tree is None:
            continue
        found = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        for node in sorted(found, key=lambda n: (n.lineno, n.col_offset)):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if name in names:
                calls[name] = node
    return calls


def build(kept: list[tuple[int, ast.stmt]]) -> dict[str, Any]:
    """Run the kept statements, one by one, in a fresh namespace (a failing one is skipped, as if dropped)."""
    ns: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    flags = __future__.annotations.compiler_flag  # annotations stay strings: not code to run
    for k, stmt in kept:
        try:
            exec(compile(ast.Module(body=[stmt], type_ignores=[]), f"<cell {k}>", "exec", flags=flags), ns)
        except BaseException:  # noqa: BLE001 - a broken import or a failing def is the student's; the check will say
            pass
    return ns


# --------------------------------------------------------------------------------------------- the snapshot


def _watched() -> dict[str, Any]:
    """The namespaces whose objects the checks rely on: name -> module or class."""
    spaces: dict[str, Any] = {}
    for mod in (exercises, architecture, data, faces, latent, models, probes, toy, sys.modules["dcgan_lib"],
                sys.modules["dcgan_lib.errors"], builtins, copy, functools, math, numbers, torch, torch.nn, torch.nn.functional, torch.random,
                torch.autograd, torch.optim):
        spaces[mod.__name__] = mod
    classes = [torch.Tensor, getattr(torch._C, "TensorBase", None) or getattr(torch._C, "_TensorBase", None)]
    classes += [c for c in vars(nn).values() if isinstance(c, type)] + [c for c in vars(torch.optim).values() if isinstance(c, type)]
    classes += [c for name, mod in list(spaces.items()) if name.startswith("dcgan_lib") for c in vars(mod).values()
                if isinstance(c, type) and c.__module__ == name]
    for c in classes:
        if c is not None:
            spaces[f"{c.__module__}.{c.__qualname__}"] = c
    return spaces


def _function_parts(fn: Any, depth: int = 0) -> tuple:
    """The objects a function's behaviour hangs on besides its globals: code, defaults, closure (recursively)."""
    if not isinstance(fn, types.FunctionType) or depth > 3:
        return ()
    parts: tuple = (fn.__code__, fn.__defaults__, fn.__kwdefaults__)
    for cell in fn.__closure__ or ():
        try:
            inner = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        parts += (inner,) + _function_parts(inner, depth + 1)
    return parts


def snapshot() -> dict[str, tuple[Any, dict, dict]]:
    """Strong references (ids could be reused once an object is freed) to everything `changes` compares."""
    snap = {}
    for name, space in _watched().items():
        items = dict(vars(space))
        own = name.startswith("dcgan_lib")
        parts = {k: _function_parts(v) for k, v in items.items() if own}
        snap[name] = (space, items, parts)
    return snap


_LIBRARIES = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix,
                                                            *[p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]})


def _from_a_library(obj: Any) -> bool:
    """obj is built in or compiled from an installed package's file, not from the notebook (`<cell 3>`) or a
    file next to it."""
    obj = inspect.unwrap(obj) if callable(obj) else obj
    code = getattr(obj, "__code__", None) or getattr(getattr(obj, "__func__", None), "__code__", None)
    return code is None or os.path.realpath(code.co_filename).startswith(_LIBRARIES)


def changes(snap: dict[str, tuple[Any, dict, dict]]) -> list[str]:
    """Names whose object was replaced, added or removed since `snap` (a new submodule is only an import). In torch
    and the standard library only functions and classes from the notebook count: torch patches a few of its own
    on first use (`torch.manual_seed` once torch._dynamo loads, an optimiser class's `step`)."""
    changed = []
    for name, (space, items, parts) in snap.items():
        now, own = vars(space), name.startswith("dcgan_lib")
        changed += [f"{name}.{key}" for key in items if key not in now]
        for key, new in list(now.items()):
            old = items.get(key, _MISSING)
            if new is old:
                if own and any(a is not b for a, b in zip(_function_parts(new), parts.get(key, ()))):
                    changed.append(f"{name}.{key}")  # the same function with other code, defaults or closure
            elif not (old is _MISSING and isinstance(new, types.ModuleType)) and (own or not _from_a_library(new)):
                changed.append(f"{name}.{key}")
    return changed


# ------------------------------------------------------------------------------------------------ verdicts


def _short(text: str, n: int = 400) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 3] + "..."


def _explain(reason: str, ns: dict, dropped: dict[str, str]) -> str:
    """Add, to a NameError's reason, the dropped statement that would have set that name."""
    m = re.search(r"name '(\w+)' is not defined", reason)
    if m and m.group(1) in dropped and m.group(1) not in ns:
        return f"{reason}; `{m.group(1)}` is set by a top-level statement the grader does not run " \
               f"({dropped[m.group(1)]}): {DROPPED_HINT}"
    return reason


def verdict(exercise: str, check: Callable, call: ast.Call | None, ns: dict, dropped: dict[str, str],
            snap: dict, error_class: type) -> str | None:
    """None if `check` passes on the notebook's arguments and nothing was tampered with, else the reason."""
    if call is None:
        return f"the notebook no longer calls {check.__name__}"
    pack = ast.Call(func=ast.Name("__grader_pack__", ast.Load()), args=call.args, keywords=call.keywords)
    expr = ast.fix_missing_locations(ast.Expression(body=ast.copy_location(pack, call)))
    reason = None
    try:
        args, kwargs = eval(compile(expr, "<check call>", "eval"), {**ns, "__grader_pack__": lambda *a, **k: (a, k)})  # noqa: S307
        check(*args, **kwargs)
    except error_class as e:
        reason = str(e).removeprefix(f"exercise {exercise}: ")
    except NameError as e:
        reason = f"{check.__name__}'s argument: {e}"
    except BaseException as e:  # noqa: BLE001 - SystemExit and the like from the student's code count as failures
        reason = f"the check raised {type(e).__name__}: {_short(e, 200)}"
    tampered = changes(snap)
    if tampered:
        return f"the submission changed the checker's code ({', '.join(tampered[:3])})"
    return None if reason is None else _short(_explain(reason, ns, dropped))


def _in_child(seconds: float, run: Callable[[], str | None]) -> str | None:
    """run() in a forked child with a time limit; its result comes back through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its own process group, so a time-out also stops what it started
        os.close(r)
        try:
            os.setpgid(0, 0)
            out = {"reason": run()}
        except BaseException as e:  # noqa: BLE001
            out = {"reason": f"the check crashed: {type(e).__name__}: {_short(e, 200)}"}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    deadline, chunks = time.monotonic() + seconds, []
    while (left := deadline - time.monotonic()) > 0 and select.select([r], [], [], left)[0]:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(r)
    timed_out = time.monotonic() >= deadline
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
        except OSError:
            pass
    _, status = os.waitpid(pid, 0)
    try:
        return json.loads(b"".join(chunks))["reason"]
    except (ValueError, KeyError, TypeError):
        if timed_out:
            return f"the check did not finish in {seconds:.0f} s"
        return f"the check stopped without a result ({_status(status)})"


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def check_notebook(sources: list[str], ids: dict[str, str], seconds: float) -> dict[str, str | None]:
    """Grade each exercise id -> check name on the notebook's code cells `sources`: None if passed, else why."""
    snap = snapshot()
    checks = {i: getattr(exercises, name) for i, name in ids.items()}  # the originals, taken before student code
    error_class = exercises.ExerciseError
    trees = parse_cells(sources)
    kept, dropped = split_statements(trees)
    calls = last_calls(trees, set(ids.values()))
    ns = build(kept)
    return {i: _in_child(seconds, functools.partial(verdict, i, checks[i], calls.get(ids[i]), ns, dropped, snap, error_class))
            for i in ids}


def main() -> None:
    """Read the job from stdin, write {"results": {id: reason or null}} to stdout; everything the student's code
    prints goes to /dev/null instead."""
    job = json.load(sys.stdin)
    out = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    torch.set_num_threads(1)  # small checks; and a forked child must not inherit a busy OpenMP pool
    results = check_notebook(job["cells"], job["exercises"], job["seconds"])
    out.write(json.dumps({"results": results}))
    out.flush()


if __name__ == "__main__":
    main()
