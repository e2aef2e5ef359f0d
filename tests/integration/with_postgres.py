#!/usr/bin/env python3
"""Runs one command against a throwaway PostgreSQL cluster (issue #12).

    with_postgres.py -- python3 server_quickstart.py --oxide build/oxide

Starts a cluster with scripts/pg_throwaway in a temp dir, runs the command with OXIDE_DATABASE
set to its URL (so every `oxide serve` it starts keeps its metadata there), and stops the cluster
however the command ends. Exit status: the command's; 1 with one line when PostgreSQL is
missing.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "pg_throwaway")


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: with_postgres.py -- COMMAND...", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="oxide-pg-")
    try:
        started = subprocess.run([SCRIPT, "start", tmp], stdout=subprocess.PIPE, text=True)
        url = started.stdout.strip()
        if started.returncode != 0 or not url.startswith("postgresql://"):
            print("with_postgres: PostgreSQL is needed (Debian: apt-get install postgresql); "
                  "scripts/pg_throwaway start failed", file=sys.stderr)
            return 1
        env = dict(os.environ, OXIDE_DATABASE=url)
        return subprocess.run(argv, env=env).returncode
    finally:
        subprocess.run([SCRIPT, "stop", tmp], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
