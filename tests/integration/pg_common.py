"""A throwaway PostgreSQL cluster for an integration test that never outlives it (issue #12).

scripts/pg_throwaway starts the postmaster detached (pg_ctl), so it survives the test unless the
test stops it; a `finally:` does not run when ctest kills an overrunning test with SIGKILL. So,
as src/store/postgres/pg_cluster.cpp does for the C++ tests, a watchdog process (in its own
session: a kill of the test's process group spares it) waits for EOF on a pipe only this process
holds, then runs `pg_throwaway stop DIR` and removes DIR: the cluster goes whether the test ends,
raises, or dies. SIGTERM (ctest's first try) becomes SystemExit, so `finally:` blocks run too.
"""
import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "pg_throwaway")

# Runs in the watchdog: ignore the signals aimed at the test, wait for EOF, stop, remove.
_WATCHDOG = """
import shutil, signal, subprocess, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
sys.stdin.buffer.read()
subprocess.run([sys.argv[1], "stop", sys.argv[2]], stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
shutil.rmtree(sys.argv[2], ignore_errors=True)
"""


def exit_on_sigterm():
    """SIGTERM raises SystemExit(143) in the main thread: `finally:` blocks and context managers
    run (subprocess.run kills its child on the way out)."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


class ThrowawayCluster:
    """start() -> URL (None when PostgreSQL is missing); stop() (idempotent) stops it and removes
    `dir`. The watchdog is armed before the cluster starts, so a kill during start is covered."""

    def __init__(self, dir):
        self.dir = dir
        self._watchdog = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        # The pipe's write end is this process's only (Python fds are not inherited by default),
        # so servers and commands the test starts do not keep the watchdog waiting.
        self._watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, SCRIPT, self.dir],
                                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True)
        started = subprocess.run([SCRIPT, "start", self.dir], stdout=subprocess.PIPE, text=True)
        lines = started.stdout.strip().splitlines()
        url = lines[-1] if lines else ""
        if started.returncode != 0 or not url.startswith("postgresql://"):
            return None
        return url

    def stop(self):
        """Stops the cluster and waits until it is gone."""
        if self._watchdog is None:
            return
        self._watchdog.stdin.close()
        self._watchdog.wait()
        self._watchdog = None
