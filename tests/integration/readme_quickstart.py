#!/usr/bin/env python3
"""README.md's quick start, run exactly as written, against the real binary.

Takes the ```sh blocks of the "## Quick start" section and runs them, in order, in one bash (as
a person pasting them into a shell), in a temp dir holding a copy of the files they use
(`examples/`), with the tested `oxide` first on the PATH (as after `make install`). Then checks
what the README promises: both campaigns complete, v2 arrives as a patch a fraction of the
model's size (and v1, which the device has no base for, as the first-install patch), the
device runs v2's exact bytes, and the server and agent logs show the request
lines and the download progress. README and product cannot drift apart.

Usage: readme_quickstart.py --oxide build/oxide [--readme README.md]
"""
import argparse
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def quickstart_blocks(readme):
    """The ```sh blocks between "## Quick start" and the next "## " heading."""
    text = open(readme, encoding="utf-8").read()
    m = re.search(r"^## Quick start.*?$(.*?)(?=^## )", text, re.M | re.S)
    if not m:
        raise AssertionError("README has no '## Quick start' section")
    blocks = re.findall(r"^```sh\n(.*?)^```$", m.group(1), re.M | re.S)
    if len(blocks) < 3:
        raise AssertionError("expected the quick start's sh blocks, found %d" % len(blocks))
    return blocks


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check(cond, what, *logs):
    if not cond:
        for name, text in logs:
            sys.stderr.write("---- %s\n%s\n" % (name, text))
        raise AssertionError(what)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"))
    args = ap.parse_args()
    script = "\n".join(quickstart_blocks(args.readme))
    check("oxide serve" in script and "oxide agent" in script,
          "the quick start no longer starts a server and an agent", ("script", script))

    work = tempfile.mkdtemp(prefix="oxide-readme-")
    shutil.copytree(os.path.join(ROOT, "examples"), os.path.join(work, "examples"))
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(args.oxide)) + os.pathsep + env["PATH"]
    # Its own session: whatever the script leaves running is in one process group, killed below.
    proc = subprocess.Popen(["bash", "-e", "-c", script], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, text=True)
    try:
        out, _ = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        out += "\n(timed out after 180 s)"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the server and agent, should the script fail
        except ProcessLookupError:
            pass

    def read(name):
        path = os.path.join(work, name)
        return open(path, errors="replace").read() if os.path.exists(path) else "(missing)"

    serve_log, agent_log = read("serve.log"), read("agent.log")
    logs = [("quick start output", out), ("serve.log", serve_log), ("agent.log", agent_log)]
    check(proc.returncode == 0, "the quick start exited %s" % proc.returncode, *logs)

    campaigns = re.findall(r"^(c-\S+) (\w+): (\d+) bytes served, full files: (\d+)$", out, re.M)
    check(len(campaigns) == 2, "expected one summary line per rollout", *logs)
    v1_size = os.path.getsize(os.path.join(work, "examples/models/mlp-mnist-v1.onnx"))
    v2_path = os.path.join(work, "examples/models/mlp-mnist-v2-last-layer.onnx")
    (_, state1, served1, full1), (_, state2, served2, full2) = campaigns
    check(state1 == "completed" and state2 == "completed", "both campaigns complete", *logs)
    # v1 has no base on the device: the first-install patch against the empty base (issue #13),
    # ready before the rollout since `oxide model push` waited for it.
    check(int(full1) == v1_size and 0 < int(served1) < v1_size,
          "v1 arrives as the first-install patch, smaller than the file", *logs)
    check("downloaded patch for v1" in out, "the agent logs v1 as a patch download", *logs)
    check(0 < int(served2) < int(full2) // 20, "v2 arrives as a patch (< 5% of the model)", *logs)
    check("downloaded patch for v2" in out and "committed v2" in out,
          "the agent log lines the README greps for", *logs)
    installed = os.path.join(work, "device/models/mnist")
    check(os.path.exists(installed) and sha256_file(installed) == sha256_file(v2_path),
          "the device runs v2's exact bytes", *logs)
    check("oxide serve: stopped" in out, "the server stopped cleanly", *logs)

    # Logs a person can follow: one line per request, the patch build, the agent's progress.
    check(re.search(r"info  oxide serve: request method=GET "
                    r"path=/api/v1/models/mnist/versions/v2/download status=200 "
                    r"bytes=%s ms=\S+ device=cam-01$" % served2, serve_log, re.M),
          "serve.log has the request line of the v2 patch download", *logs)
    check(re.search(r"request method=POST path=/api/v1/devices/cam-01/heartbeat status=200 "
                    r"bytes=\d+ ms=\S+ device=cam-01$", serve_log, re.M),
          "serve.log has heartbeat request lines", *logs)
    check(re.search(r"oxide serve: patch ready base=\"mnist v1\" target=\"mnist v2\" "
                    r"strategy=tensor bytes=%s " % served2, serve_log),
          "serve.log has the patch build with its strategy and size", *logs)
    check(re.search(r"oxide serve: campaign completed campaign=c-", serve_log),
          "serve.log has the campaign transitions", *logs)
    check(re.search(r"oxide-agent: mnist: downloading v2 \(patch\): .* \(100%\)", agent_log),
          "agent.log has download progress lines (stderr is not a terminal)", *logs)
    print("README quick start OK: v1 %s bytes, v2 patch %s bytes" % (served1, served2))
    shutil.rmtree(work, ignore_errors=True)  # kept on failure for a look


if __name__ == "__main__":
    main()
