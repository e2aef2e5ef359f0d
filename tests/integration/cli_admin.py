#!/usr/bin/env python3
"""The admin CLI (`oxide device|fleet|model|campaign|deploy|token`) against a real `oxide serve`.

Runs every command and compares its stdout with tests/golden/cli/<step>.txt after a small set of
substitutions for what changes from run to run (NORMALISE below: times, campaign ids, hex
digests, tokens, ports). Anything else that changes in the output fails the test. Rewrite the
golden files with OXIDE_REGEN_GOLDEN=1 (and review the diff).

Also checks: every command's --help; exit codes and the one-line error for no server, a bad
token (401), a viewer writing (403) and an unknown id (404); `campaign watch` following a live
campaign over the server's event stream (checked in /metrics) and, through a proxy that answers
404 for /api/v1/events, by polling; exiting 0 on a completed campaign, 10 with failures,
11 failed, 12 halted, 13 aborted; `device tag`; a canary with --require-approval reaching
awaiting_approval and `campaign approve` moving it on.

Usage: cli_admin.py --oxide OXIDE
"""
import argparse
import difflib
import json
import os
import re
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_common import ServerProcess, sha256, onnx_model, two_model_versions, wait_until  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "cli")
REGEN = os.environ.get("OXIDE_REGEN_GOLDEN") == "1"

# The only things allowed to differ between runs, in this order.
NORMALISE = [
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?"), "<TIME>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d\b"), "<DATE>"),
    (re.compile(r"\bc-[0-9a-f]{16}\b"), "<CAMPAIGN>"),
    (re.compile(r"\boxide_[A-Za-z0-9_-]{43}\b"), "<TOKEN>"),
    (re.compile(r"\b[0-9a-f]{12,64}\b"), "<HEX>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<PORT>"),
]

failures = []


def normalise(text):
    for pattern, repl in NORMALISE:
        text = pattern.sub(repl, text)
    return text


class Cli:
    def __init__(self, oxide, env):
        self.oxide = oxide
        self.env = env

    def run(self, *args, env=None, timeout=60):
        e = dict(self.env, **(env or {}))
        return subprocess.run([self.oxide, *args], env=e, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def golden(self, step, *args, code=0):
        """Runs the command, checks its exit code and compares stdout with the golden file."""
        p = self.run(*args)
        if p.returncode != code:
            failures.append("%s: exit %d, want %d\n  stdout: %s\n  stderr: %s" %
                            (step, p.returncode, code, p.stdout, p.stderr))
            return p
        got = normalise(p.stdout)
        path = os.path.join(GOLDEN, step + ".txt")
        if REGEN:
            with open(path, "w") as f:
                f.write(got)
        else:
            want = open(path).read() if os.path.exists(path) else "<missing %s>\n" % path
            if got != want:
                diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                                    "golden/" + step, "output"))
                failures.append("%s: stdout differs from its golden file\n%s" % (step, diff))
                return p
        print("ok: %s (oxide %s)" % (step, " ".join(args)))
        return p

    def error(self, what, args, code, status_text, env=None):
        """A refused command: exit code and exactly one line 'oxide: <status>: ...' on stderr."""
        p = self.run(*args, env=env)
        lines = p.stderr.splitlines()
        ok = (p.returncode == code and len(lines) == 1 and lines[0].startswith("oxide: ") and
              status_text in lines[0] and p.stdout == "")
        if not ok:
            failures.append("%s: exit %d (want %d), stderr %r (want one line with %r)" %
                            (what, p.returncode, code, p.stderr, status_text))
        else:
            print("ok: %s -> %d: %s" % (what, code, lines[0]))


def heartbeat(srv, device, body):
    srv.json("POST", "/api/v1/devices/%s/heartbeat" % device, body)


def running(model, version, data):
    return {"current_model": model, "current_model_version": version, "status": "online",
            "models": [{"model_id": model, "version": version, "sha256": sha256(data)}]}


def failed_update(model, version, base, base_data, error):
    hb = running(model, base, base_data)
    hb["update"] = {"model_id": model, "version": version, "stage": "failed", "error": error,
                    "bytes_done": 0, "bytes_total": 0, "via_patch": False, "local_fault": False}
    return hb


def watch_live(cli, campaign, act, env=None):
    """Starts `campaign watch`, lets it print its first state, runs act() and returns the exit
    code and output once the watch ends by itself."""
    proc = subprocess.Popen([cli.oxide, "campaign", "watch", campaign],
                            env=dict(cli.env, **(env or {})),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    first = proc.stdout.readline() if ready else ""
    act()
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        failures.append("campaign watch %s did not end: %s %s" % (campaign, out, err))
    return proc.returncode, first + out, err


def event_streams_opened(srv):
    """How many GET /api/v1/events the server answered 200 (its request counter in /metrics)."""
    _, _, data = srv.request("GET", "/metrics")
    m = re.search(r'^oxide_http_requests_total\{code="200",method="GET",route="/api/v1/events"\} '
                  r'(\d+)', data.decode(), re.M)
    return int(m.group(1)) if m else 0


class NoEventsProxy:
    """Forwards GETs to the server, but answers 404 for /api/v1/events: a server without the
    event stream, as `campaign watch` must still handle (it then polls every 2 s)."""

    def __init__(self, upstream):
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/api/v1/events"):
                    proxy.refused += 1
                    self.answer(404, b'{"error":{"code":"not_found","message":"no route"}}')
                    return
                req = urllib.request.Request(upstream + self.path, headers={
                    "Authorization": self.headers.get("Authorization", "")})
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        self.answer(r.status, r.read())
                except urllib.error.HTTPError as e:
                    self.answer(e.code, e.read())

            def answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def check_help(cli):
    commands = [[]]
    for group, subs in [("device", ["list", "show", "accept", "reject", "remove", "tag"]),
                        ("fleet", ["create", "list", "show", "add", "remove"]),
                        ("model", ["push", "list", "show"]),
                        ("campaign", ["create", "list", "show", "watch", "pause", "resume",
                                      "abort", "approve"]),
                        ("deploy", []), ("token", ["create", "list", "revoke"])]:
        commands.append([group])
        commands += [[group, s] for s in subs]
    for c in commands:
        p = cli.run(*c, "--help")
        if p.returncode != 0 or "Usage:" not in p.stdout:
            failures.append("oxide %s --help: exit %d, %r" % (" ".join(c), p.returncode, p.stdout))
        elif c and "--server" not in p.stdout and len(c) == 1:
            failures.append("oxide %s --help does not list --server" % c[0])
    print("ok: --help of %d commands" % len(commands))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-cli-admin-")
    data = os.path.join(tmp, "data")
    srv = ServerProcess(args.oxide, data, os.path.join(tmp, "server.log"))
    try:
        run(srv, args.oxide, tmp)
    except Exception:
        sys.stderr.write(open(os.path.join(tmp, "server.log")).read()[-5000:])
        srv.proc.kill()
        raise
    srv.stop()
    if failures:
        sys.stderr.write("\n\n".join(failures) + "\n")
        sys.stderr.write("server log: %s\n" % os.path.join(tmp, "server.log"))
        sys.exit(1)
    print("cli_admin OK")
    shutil.rmtree(tmp, ignore_errors=True)


def run(srv, oxide, tmp):
    # Server and token from a config file (OXIDE_CONFIG); HOME is a scratch dir so a user's
    # ~/.config/oxide/cli.toml is never read.
    config = os.path.join(tmp, "cli.toml")
    with open(config, "w") as f:
        f.write('server = "http://127.0.0.1:%d"\ntoken_file = "%s"\n' %
                (srv.port, os.path.join(tmp, "data", "admin.token")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OXIDE_")}
    env.update(HOME=tmp, OXIDE_CONFIG=config)
    cli = Cli(oxide, env)
    check_help(cli)

    v1, v2 = two_model_versions()
    v3 = onnx_model({"w0": [0.5] * 1024})
    files = {}
    for name, blob in [("v1", v1), ("v2", v2), ("v3", v3)]:
        files[name] = os.path.join(tmp, name + ".onnx")
        with open(files[name], "wb") as f:
            f.write(blob)

    # Devices register and enroll over the API (that is the agent's side, not the CLI's).
    for d in ["dev-1", "dev-2", "dev-3", "dev-4"]:
        srv.json("POST", "/api/v1/devices", {"id": d, "name": "Camera " + d[-1]}, expect=201)
    srv.json("POST", "/api/v1/enroll", {"device_id": "dev-1", "secret": "s" * 40}, expect=202,
             auth=False)

    cli.golden("fleet_create", "fleet", "create", "cams", "--name", "Cameras",
               "--description", "north site")
    cli.golden("fleet_create_solo", "fleet", "create", "solo")
    cli.golden("fleet_create_one", "fleet", "create", "one")
    cli.golden("fleet_create_empty", "fleet", "create", "empty")
    cli.golden("device_accept", "device", "accept", "dev-1")
    cli.golden("device_reject", "device", "reject", "dev-4")
    cli.golden("fleet_add", "fleet", "add", "cams", "dev-1", "dev-2")
    cli.golden("fleet_add_solo", "fleet", "add", "solo", "dev-3")
    cli.golden("fleet_add_one", "fleet", "add", "one", "dev-1", "dev-4")
    cli.golden("fleet_remove", "fleet", "remove", "one", "dev-4")
    cli.golden("fleet_list", "fleet", "list")
    cli.golden("fleet_show", "fleet", "show", "cams")

    cli.golden("model_push_first", "model", "push", files["v1"], "--model", "det",
               "--version", "1.0")
    for d in ["dev-1", "dev-2", "dev-3"]:
        heartbeat(srv, d, running("det", "1.0", v1))
    cli.golden("model_push_second", "model", "push", files["v2"], "--model", "det",
               "--version", "1.1")
    cli.golden("model_list", "model", "list")
    cli.golden("model_show", "model", "show", "det")
    inv = running("det", "1.0", v1)
    inv["inventory"] = {"os": "linux", "os_version": "Debian GNU/Linux 12", "arch": "aarch64",
                        "agent_version": "0.1.0", "free_disk_bytes": 3 << 30,
                        "attributes": {"camera": "imx477"}}
    heartbeat(srv, "dev-1", inv)
    cli.golden("device_tag", "device", "tag", "dev-1", "site=lyon", "room=3")
    cli.golden("device_tag_merge", "device", "tag", "dev-1", "room=4", "--remove", "site")
    cli.golden("device_tag_clear", "device", "tag", "dev-2", "--clear")
    cli.error("device tag without a change", ["device", "tag", "dev-2"], 2, "nothing to change")
    cli.error("device tag KEY without =", ["device", "tag", "dev-2", "site"], 2, "KEY=VALUE")
    cli.golden("device_list", "device", "list")
    cli.golden("device_show", "device", "show", "dev-1")
    p = cli.run("device", "show", "dev-1", "--json")
    if p.returncode != 0 or json.loads(p.stdout)["id"] != "dev-1":
        failures.append("device show --json: %r" % p.stdout)

    # A rollout to cams: pause/resume, then dev-1 completes and dev-2 fails.
    created = cli.golden("campaign_create", "campaign", "create", "--model", "det",
                         "--version", "1.1", "--fleet", "cams", "--strategy", "all-at-once",
                         "--failure-threshold-count", "0")
    cams = re.search(r"c-[0-9a-f]{16}", created.stdout).group(0)
    cli.golden("campaign_pause", "campaign", "pause", cams)
    cli.golden("campaign_resume", "campaign", "resume", cams)
    cli.golden("campaign_list", "campaign", "list")
    cli.golden("campaign_show_running", "campaign", "show", cams)

    def finish_cams():
        heartbeat(srv, "dev-1", running("det", "1.1", v2))
        heartbeat(srv, "dev-2", failed_update("det", "1.1", "1.0", v1, "health check exited 1"))
    streams = event_streams_opened(srv)
    code, out, err = watch_live(cli, cams, finish_cams)
    expect_code("watch cams (completed_with_failures)", code, 10, out, err)
    if event_streams_opened(srv) <= streams:
        failures.append("watch cams did not open the event stream (GET /api/v1/events)")
    else:
        print("ok: watch cams followed the event stream")
    cli.golden("campaign_show_done", "campaign", "show", cams)

    # solo: abort one campaign, then a live one whose only device fails.
    created = cli.golden("campaign_create_solo", "campaign", "create", "--model", "det",
                         "--version", "1.1", "--fleet", "solo", "--strategy", "canary",
                         "--canary-percent", "50")
    aborted = re.search(r"c-[0-9a-f]{16}", created.stdout).group(0)
    cli.golden("campaign_abort", "campaign", "abort", aborted)
    cli.golden("campaign_watch_aborted", "campaign", "watch", aborted, code=13)
    created = cli.run("campaign", "create", "--model", "det", "--version", "1.1", "--fleet", "solo")
    solo = re.search(r"c-[0-9a-f]{16}", created.stdout).group(0)
    # ... watched through a proxy without the event stream: the watch polls.
    proxy = NoEventsProxy("http://127.0.0.1:%d" % srv.port)
    streams = event_streams_opened(srv)
    code, out, err = watch_live(cli, solo, lambda: heartbeat(
        srv, "dev-3", failed_update("det", "1.1", "1.0", v1, "health check exited 1")),
        env={"OXIDE_SERVER": proxy.url})
    proxy.close()
    expect_code("watch solo (failed, polling)", code, 11, out, err)
    if proxy.refused < 1 or event_streams_opened(srv) != streams:
        failures.append("watch solo via the proxy: %d event requests refused, %d streams opened" %
                        (proxy.refused, event_streams_opened(srv) - streams))
    else:
        print("ok: watch solo polled (its event stream answered 404)")
    if "health check exited 1" not in out:
        failures.append("watch solo does not show the failure: %r" % out)

    # one: dev-1 already runs 1.1, so the campaign completes at once.
    created = cli.run("campaign", "create", "--model", "det", "--version", "1.1", "--fleet", "one")
    one = re.search(r"c-[0-9a-f]{16}", created.stdout).group(0)
    cli.golden("campaign_watch_completed", "campaign", "watch", one)

    # deploy: push + campaign (+ watch: an empty fleet completes at once).
    cli.golden("deploy", "deploy", files["v3"], "--model", "det", "--version", "1.2",
               "--fleet", "empty", "--strategy", "rolling", "--batch-size", "2", "--watch")

    # A failure threshold of one device halts cams' next rollout at its first failure.
    created = cli.run("campaign", "create", "--model", "det", "--version", "1.2", "--fleet", "cams",
                      "--failure-threshold-count", "1")
    halted = re.search(r"c-[0-9a-f]{16}", created.stdout).group(0)
    code, out, err = watch_live(cli, halted, lambda: heartbeat(
        srv, "dev-2", failed_update("det", "1.2", "1.0", v1, "out of memory")))
    expect_code("watch cams 1.2 (halted)", code, 12, out, err)

    check_approval(cli, srv, v1, v2)

    # Tokens (the migrated `oxide token`), then the refusals.
    created = cli.run("token", "create", "--name", "dashboard", "--role", "viewer")
    viewer = created.stdout.strip()
    if created.returncode != 0 or not viewer.startswith("oxide_"):
        failures.append("token create: %r %r" % (created.stdout, created.stderr))
    cli.golden("token_list", "token", "list")
    cli.error("no server", ["device", "list", "--server", "http://127.0.0.1:1"], 1,
              "cannot reach http://127.0.0.1:1")
    cli.error("bad token", ["device", "list"], 4, "401: ",
              env={"OXIDE_TOKEN": "oxide_" + "x" * 43})
    cli.error("viewer writing", ["fleet", "create", "x"], 4, "403: ", env={"OXIDE_TOKEN": viewer})
    cli.error("unknown device", ["device", "show", "nope"], 3, "404: device 'nope' not found")
    cli.error("unknown campaign", ["campaign", "pause", "c-0000000000000000"], 3, "404: ")
    cli.error("finished campaign", ["campaign", "resume", cams], 4, "409: ")
    p = cli.run("device", "list", env={"OXIDE_TOKEN": viewer})
    if p.returncode != 0 or "dev-1" not in p.stdout:
        failures.append("a viewer lists devices: %r" % p.stderr)
    token_id = [l.split()[0] for l in cli.run("token", "list").stdout.splitlines()
                if "dashboard" in l][0]
    cli.golden("token_revoke", "token", "revoke", token_id)
    cli.error("revoked token", ["device", "list"], 4, "401: ", env={"OXIDE_TOKEN": viewer})
    cli.golden("device_remove", "device", "remove", "dev-4")
    check_config(cli, tmp, config)
    check_streamed_upload(cli, tmp)


def check_approval(cli, srv, v1, v2):
    """A canary with --require-approval stops in awaiting_approval after its canary wave;
    `campaign approve` assigns the rest; a second approve is refused (409)."""
    cli.run("fleet", "create", "lab")
    for d in ["lab-1", "lab-2"]:
        srv.json("POST", "/api/v1/devices", {"id": d, "name": d}, expect=201)
        cli.run("fleet", "add", "lab", d)
        heartbeat(srv, d, running("det", "1.0", v1))
    cli.golden("campaign_create_approval", "campaign", "create", "--model", "det", "--version",
               "1.1", "--fleet", "lab", "--strategy", "canary", "--canary-percent", "50",
               "--require-approval")
    p = cli.run("campaign", "list", "--json")
    lab = [c for c in json.loads(p.stdout)["campaigns"] if c["fleet_id"] == "lab"][0]["id"]

    def detail():
        return json.loads(cli.run("campaign", "show", lab, "--json").stdout)
    wave = [d["device_id"] for d in detail()["devices"] if d["state"] == "pending"]
    if len(wave) != 1:
        failures.append("canary 50%% of 2 devices: wave %r" % wave)
        return
    heartbeat(srv, wave[0], running("det", "1.1", v2))
    wait_until("awaiting_approval", lambda: detail()["state"] == "awaiting_approval", 30)
    print("ok: the canary campaign waits for approval after %s completed" % wave[0])
    shown = cli.run("campaign", "show", lab).stdout
    if ("state:       awaiting_approval\n" not in shown or
            "approval:    required after the canary wave" not in shown):
        failures.append("campaign show of a campaign awaiting approval: %r" % shown)
    cli.golden("campaign_approve", "campaign", "approve", lab)
    after = detail()
    if after["state"] != "rolling_out" or any(d["state"] == "waiting" for d in after["devices"]):
        failures.append("approve: %s %r" % (after["state"], after["devices"]))
    if "approval:    approved <TIME>" not in normalise(cli.run("campaign", "show", lab).stdout):
        failures.append("campaign show does not say when it was approved")
    cli.error("approve twice", ["campaign", "approve", lab], 4, "409: ")
    rest = [d["device_id"] for d in after["devices"] if d["device_id"] != wave[0]]
    code, out, err = watch_live(cli, lab, lambda: heartbeat(srv, rest[0],
                                                           running("det", "1.1", v2)))
    expect_code("watch lab after approval (completed)", code, 0, out, err)


def check_streamed_upload(cli, tmp):
    """`model push` streams the file: 128 MiB go up under a 96 MiB address-space limit."""
    big = os.path.join(tmp, "big.bin")
    with open(big, "wb") as f:
        f.truncate(128 << 20)
    limit = 96 << 20

    def cap():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    p = subprocess.run([cli.oxide, "model", "push", big, "--model", "big", "--version", "1",
                        "--no-wait"], env=cli.env, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL, preexec_fn=cap)
    if p.returncode != 0 or "uploaded big 1: 128.0 MiB" not in p.stdout:
        failures.append("a 128 MiB push under a 96 MiB limit: exit %d %r %r" %
                        (p.returncode, p.stdout, p.stderr))
    else:
        print("ok: 128 MiB pushed under a 96 MiB address-space limit")
    os.remove(big)


def check_config(cli, tmp, config):
    """--config, $OXIDE_CONFIG and ~/.config/oxide/cli.toml; a bad file is a usage error."""
    home = os.path.join(tmp, "home")
    os.makedirs(os.path.join(home, ".config", "oxide"))
    shutil.copy(config, os.path.join(home, ".config", "oxide", "cli.toml"))
    env = {k: v for k, v in cli.env.items() if k != "OXIDE_CONFIG"}
    env["HOME"] = home
    p = Cli(cli.oxide, env).run("fleet", "list")
    if p.returncode != 0 or "cams" not in p.stdout:
        failures.append("~/.config/oxide/cli.toml is not read: %r" % p.stderr)
    p = Cli(cli.oxide, dict(env, HOME=tmp)).run("fleet", "list", "--config", config)
    if p.returncode != 0 or "cams" not in p.stdout:
        failures.append("--config FILE is not read: %r" % p.stderr)
    bad = os.path.join(tmp, "bad.toml")
    with open(bad, "w") as f:
        f.write('server = "http://127.0.0.1:1"\nsevrer_typo = "x"\n')
    cli.error("unknown config key", ["fleet", "list", "--config", bad], 2, "unknown key 'sevrer_typo'")
    cli.error("missing config file", ["fleet", "list"], 2, "config: ",
              env={"OXIDE_CONFIG": os.path.join(tmp, "nope.toml")})
    cli.error("no token anywhere", ["fleet", "list", "--config", "/dev/null"], 2, "no token",
              env={"OXIDE_CONFIG": "", "HOME": tmp, "OXIDE_SERVER": "http://127.0.0.1:1"})


def expect_code(what, code, want, out, err):
    if code != want:
        failures.append("%s: exit %d, want %d\n  stdout: %s\n  stderr: %s" %
                        (what, code, want, out, err))
    else:
        print("ok: %s -> %d" % (what, code))


if __name__ == "__main__":
    main()
