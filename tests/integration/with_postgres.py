#!/usr/bin/env python3
"""Runs one command against a throwaway PostgreSQL cluster (issue #12).

    with_postgres.py -- python3 server_quickstart.py --oxide build/oxide

Starts a cluster with scripts/pg_throwaway in a temp dir, runs the command with OXIDE_DATABASE
set to its URL (so every `oxide serve` it starts keeps its metadata there), and stops the cluster
however the command ends: also when this script is killed (pg_common's watchdog; SIGTERM
also stops the command). Exit status: the command's; 1 with one line when PostgreSQL is missing.
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pg_common import ThrowawayCluster, exit_on_sigterm  # noqa: E402


def main():
    argv = sys.argv[1:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        print("usage: with_postgres.py -- COMMAND...", file=sys.stderr)
        return 2
    exit_on_sigterm()
    tmp = tempfile.mkdtemp(prefix="oxide-pg-")
    cluster = ThrowawayCluster(tmp)
    try:
        url = cluster.start()
        if url is None:
            print("with_postgres: PostgreSQL is needed (Debian: apt-get install postgresql); "
                  "scripts/pg_throwaway start failed", file=sys.stderr)
            return 1
        env = dict(os.environ, OXIDE_DATABASE=url)
        return subprocess.run(argv, env=env).returncode
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
