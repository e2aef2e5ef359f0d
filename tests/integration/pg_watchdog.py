#!/usr/bin/env python3
"""Integration (issue #12): a throwaway PostgreSQL cluster never outlives its test.

ctest ends a test that overruns its TIMEOUT with SIGTERM or SIGKILL; a `finally:` does not run
on SIGKILL, and the postmaster pg_ctl starts is detached from the test. For each signal this
starts `with_postgres.py -- <a command that waits>`, waits until the cluster is up (its
postmaster is a process started with `-p <the URL's port>`), kills with_postgres.py with the
signal and checks that no such process is left, within a deadline.
Exit 0 when PostgreSQL is missing (nothing to check; the other *_postgres tests say so).
"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_common import wait_until  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WAITER = "import os, sys; print(os.environ['OXIDE_DATABASE'], flush=True); sys.stdin.read()"


def postmasters_on(port):
    """Pids of postgres processes started with `-p port` (the postmaster)."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "postgres" in cmd and (" -p %d " % port) in cmd + " ":
            pids.append(int(pid))
    return pids


def check(sig):
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "with_postgres.py"), "--",
                          sys.executable, "-c", WAITER],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline().split()
        if not line:
            p.wait(timeout=60)
            if p.returncode == 1:
                return False  # PostgreSQL missing
            raise AssertionError("with_postgres.py printed nothing (exit %s)" % p.returncode)
        url = line[0]
        assert url.startswith("postgresql://"), url
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        wait_until("postmaster on port %d" % port, lambda: postmasters_on(port), timeout=60)
        p.send_signal(sig)
        p.wait(timeout=60)
        wait_until("cluster on port %d stopped after %s" % (port, sig.name),
                   lambda: not postmasters_on(port), timeout=60)
        print("%s: cluster stopped" % sig.name)
        return True
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stdin.close()  # ends the waiting command (orphaned when with_postgres.py was killed)


def main():
    ran = [check(sig) for sig in (signal.SIGKILL, signal.SIGTERM)]
    if not any(ran):
        print("pg_watchdog: PostgreSQL missing, nothing checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
