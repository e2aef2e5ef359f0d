"""A fleet on loopback: one `oxide serve` and one `oxide agent` process per device.

Python 3 standard library only. Used by `scripts/demo` and by the fleet end-to-end suite
(tests/e2e/). Every wait polls observable state (the HTTP API, files, agent log lines) against
a deadline; nothing sleeps as synchronisation.

Child processes get PR_SET_PDEATHSIG(SIGKILL), so they die with the driver even when it is
killed hard; `Fleet.close()` stops them politely first.
"""
import ctypes
import hashlib
import http.client
import json
import os
import random
import re
import select
import signal
import struct
import subprocess
import threading
import time

from signing import ReleaseSigner

_PR_SET_PDEATHSIG = 1
# SHA-256 of zero bytes: the base of a first-install patch (docs/api.md).
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _die_with_parent():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass  # best effort: the driver's own clean-up still stops the process


class Timeout(AssertionError):
    pass


def wait_for(what, pred, timeout=60.0, interval=0.05):
    """Returns pred()'s first truthy value; raises Timeout after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Timeout(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)  # the polling period of a deadline wait


def sha256_file(path):
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except FileNotFoundError:
        return None
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Models

def safetensors(tensors):
    """A SafeTensors file from {name: list of floats} (F32, 1-D, in the given order)."""
    header, blobs, offset = {}, [], 0
    for name, values in tensors.items():
        data = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": [len(values)],
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the format pads the header with spaces to 8 bytes
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def model_family(seed, tensors=4, floats=32 * 1024):
    """v1 of a small model and a generator of fine-tuned successors (a few values nudged)."""
    rng = random.Random(seed)
    weights = {f"layer{i}.weight": [rng.gauss(0.0, 0.5) for _ in range(floats)]
               for i in range(tensors)}

    def fine_tune(step):
        r = random.Random(seed * 1000 + step)
        name = f"layer{step % tensors}.weight"
        values = weights[name]
        for i in range(r.randrange(50), floats, 50):  # 2% of one tensor
            values[i] += r.gauss(0.0, 0.01)
        return safetensors(weights)

    return safetensors(weights), fine_tune


def random_safetensors(seed, size):
    """A SafeTensors file of about `size` bytes of unrelated random (finite) F32 weights: no
    patch helps, so devices download it whole. Fast to make, for large test models."""
    n = size // 4 // 4 * 4
    raw = bytearray(random.Random(seed).randbytes(n * 4))
    raw[3::4] = b"\x3e" * n  # every float's sign/exponent byte: values in [0.125, 0.5)
    tensors = 4
    per = n // tensors
    header, offset = {}, 0
    for i in range(tensors):
        header[f"layer{i}.weight"] = {"dtype": "F32", "shape": [per],
                                      "data_offsets": [offset, offset + per * 4]}
        offset += per * 4
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + bytes(raw)


# ---------------------------------------------------------------------------------------------
# HTTP

class ApiError(AssertionError):
    def __init__(self, method, path, status, body):
        super().__init__(f"{method} {path} -> HTTP {status}: {body!r}")
        self.status = status
        self.body = body


class Api:
    """The control plane's API as an operator holding `token` (the server's admin.token)."""

    def __init__(self, port, token):
        self.port = port
        self.token = token

    def call(self, method, path, body=None, raw=None, timeout=30):
        """Returns (status, parsed JSON or raw bytes). Raises OSError when unreachable."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": "Bearer " + self.token}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(payload) if payload else None
        except ValueError:
            return resp.status, payload

    def ok(self, method, path, body=None, raw=None, timeout=30):
        status, js = self.call(method, path, body, raw, timeout)
        if status >= 300:
            raise ApiError(method, path, status, js)
        return js

    def get(self, path):
        return self.ok("GET", path)

    def post(self, path, body=None):
        return self.ok("POST", path, body if body is not None else {})


# ---------------------------------------------------------------------------------------------
# Processes

class Server:
    """`oxide serve` on 127.0.0.1. The first start picks a free port; restarts reuse it."""

    def __init__(self, oxide, data_dir, log_path, extra=()):
        self.oxide, self.data_dir, self.log_path = oxide, data_dir, log_path
        self.extra = list(extra)
        self.port = 0
        self.proc = None
        self.api = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=30):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.oxide, "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", self.data_dir, *self.extra],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent)
        log.close()
        # "oxide serve listening on http://HOST:PORT (data dir DIR)"
        pattern = re.compile(rb"listening on http://[^:\s]+:(\d+)")
        deadline = time.monotonic() + timeout
        seen = b""
        while True:
            m = pattern.search(seen)
            if m:
                self.port = int(m.group(1))
                break
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"oxide serve did not announce its port: {seen!r} "
                                     f"(log {self.log_path})")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    continue
                seen += chunk
        # Keep draining stdout so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(self.proc.stdout,), daemon=True).start()
        # Written by the first start, before the port is announced; only its owner may read it.
        with open(os.path.join(self.data_dir, "admin.token")) as f:
            self.api = Api(self.port, f.read().strip())
        return self

    def _drain(self, pipe):
        with open(self.log_path, "ab") as log:
            for line in pipe:
                log.write(line)
                log.flush()

    def kill(self):
        """SIGKILL, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Agent:
    """One device: `oxide agent` with its own model dir and state dir.

    Its stderr is timestamped on arrival (monotonic clock) so tests can order events across
    agents more finely than the agent's one-second log stamps."""

    def __init__(self, oxide, device_id, server, root, poll=0.2, extra=()):
        self.oxide, self.device_id, self.server = oxide, device_id, server
        self.model_dir = os.path.join(root, device_id, "models")
        self.state_dir = os.path.join(root, device_id, "state")
        self.log_path = os.path.join(root, device_id, "agent.log")
        self.poll = poll
        self.extra = list(extra)
        self.proc = None
        self.events = []  # (monotonic seconds, line)
        self._lock = threading.Lock()
        os.makedirs(self.model_dir, exist_ok=True)
        os.makedirs(self.state_dir, exist_ok=True)

    def start(self):
        args = [self.oxide, "agent", "--control-plane", self.server.url,
                "--device-id", self.device_id, "--model-dir", self.model_dir,
                "--state-dir", self.state_dir, "--poll-interval", str(self.poll), *self.extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        return self

    def _read(self, pipe):
        with open(self.log_path, "ab") as log:
            for raw in pipe:
                log.write(raw)
                log.flush()
                line = raw.decode(errors="replace").rstrip("\n")
                with self._lock:
                    self.events.append((time.monotonic(), line))

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if not self.running:
            return None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def lines(self, pattern):
        """[(time, match)] for the log lines matching the regex."""
        rx = re.compile(pattern)
        with self._lock:
            events = list(self.events)
        return [(t, m) for t, line in events for m in [rx.search(line)] if m]

    def first(self, pattern):
        found = self.lines(pattern)
        return found[0][0] if found else None

    def last(self, pattern):
        found = self.lines(pattern)
        return found[-1][0] if found else None

    def model_path(self, model_id):
        return os.path.join(self.model_dir, model_id)

    def installed_sha(self, model_id):
        return sha256_file(self.model_path(model_id))

    def state(self, model_id):
        try:
            with open(os.path.join(self.state_dir, model_id, "state.json")) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return None

    def received_bytes(self, version):
        """Payload sizes the agent logged as downloaded for `version`: [(kind, bytes)]."""
        rx = r"downloaded (patch|full file) for " + re.escape(version) + r" \((\d+) bytes\)"
        return [(m.group(1), int(m.group(2))) for _, m in self.lines(rx)]

    def tail(self, n=25):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except FileNotFoundError:
            return ""


# ---------------------------------------------------------------------------------------------
# The fleet

TERMINAL = {"completed", "failed", "rolled_back", "withdrawn", "superseded", "skipped"}


class Fleet:
    def __init__(self, oxide, work, model_id="model", fleet_id="fleet", server_args=()):
        self.oxide = os.path.abspath(oxide)
        self.work = work
        self.model_id = model_id
        self.fleet_id = fleet_id
        os.makedirs(os.path.join(work, "devices"), exist_ok=True)
        self.server = Server(self.oxide, os.path.join(work, "server-data"),
                             os.path.join(work, "server.log"), server_args)
        self.agents = {}
        self.versions = {}  # version -> upload reply
        self.signer = ReleaseSigner(self.oxide, work)  # every upload is signed

    @property
    def api(self):
        return self.server.api

    def start_server(self):
        self.server.start()
        self.api.post("/api/v1/fleets", {"id": self.fleet_id, "name": self.fleet_id})
        # Agents enroll with the fleet's enrollment token: accepted at once.
        token = self.api.post(f"/api/v1/fleets/{self.fleet_id}/enrollment-tokens")["token"]
        self.enrollment_token_file = os.path.join(self.work, "enrollment.token")
        with open(self.enrollment_token_file, "w") as f:
            f.write(token + "\n")
        return self

    def add_devices(self, ids, poll=0.2, extra=(), start=True):
        """Registers the devices, adds them to the fleet in order, starts their agents."""
        for did in ids:
            self.api.post("/api/v1/devices", {"id": did, "name": did})
            self.api.post(f"/api/v1/fleets/{self.fleet_id}/devices/{did}")
            agent = Agent(self.oxide, did, self.server, os.path.join(self.work, "devices"),
                          poll, [*self.signer.agent_args(), "--enrollment-token-file",
                                 self.enrollment_token_file, *extra])
            self.agents[did] = agent
            if start:
                agent.start()
        return [self.agents[d] for d in ids]

    def upload(self, version, blob):
        reply = self.api.ok("POST", f"/api/v1/models/{self.model_id}/versions/{version}",
                            raw=blob, timeout=120)
        self.versions[version] = reply
        self.signer.publish(self.api, self.model_id, version, blob)
        return reply

    def meta(self, version):
        return self.api.get(f"/api/v1/models/{self.model_id}/versions/{version}/meta")

    def patch_from(self, version, base_version, timeout=120):
        """Waits until the patch base_version -> version is no longer pending; returns it."""
        base_sha = self.versions[base_version]["sha256"]

        def settled():
            for p in self.meta(version).get("patches") or []:
                if p.get("base_sha256") == base_sha and p.get("state") != "pending":
                    return p
            return None
        return wait_for(f"patch {base_version} -> {version}", settled, timeout, 0.1)

    def patch_from_empty(self, version, timeout=120):
        """Waits until the first-install patch of `version` (from the empty base) is no longer
        pending; returns it."""
        def settled():
            for p in self.meta(version).get("patches") or []:
                if p.get("base_sha256") == EMPTY_SHA256 and p.get("state") != "pending":
                    return p
            return None
        return wait_for(f"patch (empty) -> {version}", settled, timeout, 0.1)

    def create_campaign(self, version, strategy="all_at_once", **options):
        """Returns the campaign detail of the 201 reply (its state right at creation)."""
        body = {"model_id": self.model_id, "model_version": version,
                "fleet_id": self.fleet_id, "strategy": strategy, **options}
        return self.api.ok("POST", "/api/v1/campaigns", body)

    def campaign(self, version, strategy="all_at_once", **options):
        return self.create_campaign(version, strategy, **options)["id"]

    def detail(self, cid):
        return self.api.get(f"/api/v1/campaigns/{cid}")

    def wait_campaign(self, cid, states=("completed",), timeout=90, on_poll=None):
        """Polls the campaign until its state is in `states`; calls on_poll(detail) each time."""
        final = set(states)

        def poll():
            d = self.detail(cid)
            if on_poll:
                on_poll(d)
            return d if d["state"] in final else None
        return wait_for(f"campaign {cid} to reach {'/'.join(states)}", poll, timeout, 0.05)

    def device(self, did):
        return self.api.get(f"/api/v1/devices/{did}")

    def close(self):
        for agent in self.agents.values():
            if agent.running:
                agent.proc.send_signal(signal.SIGTERM)
        for agent in self.agents.values():
            agent.stop()
        self.server.stop()
