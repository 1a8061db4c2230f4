"""Where and as whom a student's code runs when `dcgan grade` runs it: as the grader, or, with `--isolate`, in a
throwaway box.

Every student process (the notebook's kernel and the checker) is started through the same command prefix, so
one `Sandbox` describes both. With `--isolate`:

- a throwaway working copy: a temporary folder holding only that notebook, its cwd and HOME;
- a clean environment: only HOME, PATH, LANG, PYTHONPATH and MPLBACKEND, none of the grader's variables;
- resource limits (`prlimit`): address space, CPU seconds, file size, processes;
- with bubblewrap (`bwrap`, `apt-get install bubblewrap`), a filesystem that shows only the system's programs
  and libraries (/usr), Python and its packages, `dcgan_lib` with its data/ folder, and the working copy, all
  read-only but the copy: the instructor folder, the answer key and other students' files do not exist there.
  Also no network, its own process ids (when the kernel stops, everything it started stops with it) and, when
  the grader runs as root, the unprivileged user `nobody` (65534).

Where bubblewrap cannot run, `isolation_problem()` says why in one line and the box keeps the first three: the
student's code can then read every file the grader can.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

NOBODY = 65534  # the unprivileged user and group the box runs as when the grader is root
COURSE = "/course"  # where dcgan_lib and its data/ folder appear inside the box


@dataclass
class Limits:
    """Resource limits per student process with --isolate (`prlimit`; threads count as processes)."""

    memory_gb: float = 16.0  # address space: torch alone maps about 3.5 GB
    processes: int = 512
    file_mb: int = 1024
    cpu_s: int | None = None  # None: what the notebook's time limit allows on all cores (set by the grader)

    def prefix(self, count_processes: bool = True) -> list[str]:
        """`prlimit` with these limits, to put before a command."""
        limits = [f"--as={int(self.memory_gb * 2**30)}", f"--fsize={self.file_mb * 2**20}"]
        if self.cpu_s:
            limits.append(f"--cpu={self.cpu_s}")
        if count_processes:  # RLIMIT_NPROC counts all processes of the user: only meaningful for `nobody`
            limits.append(f"--nproc={self.processes}")
        return ["prlimit", *limits, "--"]


@dataclass
class Sandbox:
    """How to start a student process: the command prefix, its cwd, its environment."""

    cwd: str
    prefix: list[str] = field(default_factory=list)  # bwrap/setpriv/env and prlimit, or nothing
    env: dict[str, str] | None = None  # None: the grader's own environment
    transport: str = "tcp"  # "ipc" where the network is cut off: the kernel's sockets are files in cwd
    owner: int | None = None  # uid (= gid) that must own what the grader writes into cwd


def package_root() -> Path:
    """The folder holding this dcgan_lib (and, in a checkout, data/)."""
    return Path(__file__).resolve().parents[1]


def own_environment() -> dict[str, str]:
    """The grader's environment, with this dcgan_lib first on PYTHONPATH (so its processes import the same one)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(package_root()), *filter(None, [env.get("PYTHONPATH")])])
    return env


def plain(folder: Path) -> Sandbox:
    """No isolation: the grader's user, environment and files, with cwd the notebook's own folder."""
    return Sandbox(cwd=str(folder.resolve()), env=own_environment())


@functools.lru_cache(maxsize=1)
def isolation_problem() -> str | None:
    """Why bubblewrap cannot isolate the students' code here (one line), or None if it can."""
    if sys.platform != "linux":
        return f"bubblewrap needs Linux, this is {sys.platform}"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    probe = Path(os.environ.get("TMPDIR", "/tmp")).resolve()
    try:
        r = subprocess.run([*_bwrap(probe), "--", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bubblewrap did not start ({e})"
    if r.returncode != 0:
        lines = (r.stderr or "").strip().splitlines()
        return f"bubblewrap cannot create its namespaces here ({lines[-1] if lines else f'exit code {r.returncode}'})"
    return None


def isolated(work: Path, limits: Limits) -> Sandbox:
    """A box around `work` (the throwaway folder holding the notebook): see the module docstring. Creates work/home."""
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    boxed = isolation_problem() is None
    owner = NOBODY if boxed and os.geteuid() == 0 else None
    if owner is not None:
        for p in (work, home):
            os.chown(p, owner, owner)
        work.chmod(0o700)
    env = {"HOME": str(home), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": COURSE if boxed else str(package_root()), "TMPDIR": "/tmp" if boxed else str(home)}
    if boxed:
        setenv = [a for k, v in env.items() for a in ("--setenv", k, v)]
        prefix = [*_bwrap(work), "--clearenv", *setenv, "--"]
        if owner is not None:  # drop to nobody inside the box; bwrap keeps only the two capabilities that needs
            prefix += ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all",
                       "--bounding-set=-all", "--no-new-privs"]
        prefix += limits.prefix(count_processes=owner is not None)
        return Sandbox(cwd=str(work), prefix=prefix, transport="ipc", owner=owner)
    prefix = ["env", "-i", *[f"{k}={v}" for k, v in env.items()], *limits.prefix(count_processes=False)]
    return Sandbox(cwd=str(work), prefix=prefix, env=None)


def _ancestors(path: str, made: set[str]) -> list[str]:
    """`--dir` arguments creating path's missing parents as 0755 (bwrap would make them 0700, closed to nobody)."""
    args = []
    parts = Path(path).parts
    for k in range(2, len(parts)):
        d = str(Path(*parts[:k]))
        if d not in made:
            made.add(d)
            args += ["--perms", "0755", "--dir", d]
    return args


def _python_dirs() -> list[str]:
    """The folders Python and its packages live in (read-only in the box)."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(os.path.realpath(sys.executable)).parents[1])}
    dirs |= {p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages")) and os.path.isdir(p)}
    dirs = sorted(os.path.realpath(d) for d in dirs if os.path.isdir(d))
    top = [d for d in dirs if not any(d != o and d.startswith(o + "/") for o in dirs)]
    return [d for d in top if not (d == "/usr" or d.startswith("/usr/"))]


def _bwrap(work: Path) -> list[str]:
    """bwrap and its options (the program to run follows "--") for a box around `work`."""
    cmd = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
           "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr"]
    for d in ("bin", "sbin", "lib", "lib32", "lib64"):
        p = Path("/") / d
        if p.is_symlink():
            cmd += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            cmd += ["--ro-bind", str(p), str(p)]
    for f in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf"):
        if (Path("/etc") / f).exists():
            cmd += ["--ro-bind", f"/etc/{f}", f"/etc/{f}"]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
    made = {"/usr", "/etc", "/tmp", "/proc", "/dev"}
    root = package_root()
    mounts = [(d, d, "--ro-bind") for d in _python_dirs()]
    mounts.append((str(root / "dcgan_lib"), f"{COURSE}/dcgan_lib", "--ro-bind"))
    if (root / "data").is_dir():
        mounts.append((str(root / "data"), f"{COURSE}/data", "--ro-bind"))
    mounts.append((str(work), str(work), "--bind"))
    for src, dst, how in mounts:
        cmd += [*_ancestors(dst, made), how, src, dst]
        made.add(dst)
    if os.geteuid() == 0:  # privileged bwrap: setpriv needs these two to become nobody
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:  # unprivileged bwrap: a user namespace (the box's processes count against the grader's own user)
        cmd += ["--unshare-user"]
    return cmd + ["--chdir", str(work)]
