"""Helpers shared by the server integration tests (python3 stdlib only).

Starts the real `oxide serve --port 0`, reads the port from its stdout, and talks HTTP with
http.client as the admin whose token the server wrote to <data-dir>/admin.token on its first
start. Every wait polls observable state against a deadline; nothing sleeps blindly.
"""
import hashlib
import http.client
import json
import os
import random
import select
import signal
import struct
import subprocess
import time


def admin_token(data_dir):
    """The token `oxide serve` wrote on its first start (it exists once the port is announced)."""
    with open(os.path.join(data_dir, "admin.token")) as f:
        return f.read().strip()


class ServerProcess:
    def __init__(self, oxide, data_dir, log_path, extra=()):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [oxide, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", data_dir,
             *extra],
            stdout=subprocess.PIPE, stderr=self.log)
        self.port = None
        deadline = time.monotonic() + 30
        buf = b""
        while self.port is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError("server did not report its port: %r" % buf)
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                buf += chunk
                for line in buf.decode(errors="replace").splitlines():
                    marker = "listening on http://127.0.0.1:"
                    if marker in line:
                        self.port = int(line.split(marker)[1].split()[0])
        self.token = admin_token(data_dir)

    def request(self, method, path, body=None, headers=None, timeout=60, auth=True):
        """As the admin unless `auth` is False or `headers` has its own Authorization."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if auth and not any(k.lower() == "authorization" for k in h):
            h["Authorization"] = "Bearer " + self.token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data

    def json(self, method, path, body=None, expect=200, headers=None, auth=True):
        status, _, data = self.request(method, path, body, headers, auth=auth)
        if status != expect:
            raise AssertionError("%s %s -> %d (want %d): %s" % (method, path, status, expect, data))
        return json.loads(data) if data else None

    def enrollment_token(self, fleet_id, path=None):
        """A new enrollment token of the fleet (written to `path` too when given)."""
        token = self.json("POST", "/api/v1/fleets/%s/enrollment-tokens" % fleet_id,
                          expect=201)["token"]
        if path:
            with open(path, "w") as f:
                f.write(token + "\n")
        return token

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        rest = self.proc.stdout.read().decode(errors="replace")
        self.log.close()
        return rc, rest


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_varint(field, value):
    return varint(field << 3) + varint(value)


def field_bytes(field, data):
    return varint((field << 3) | 2) + varint(len(data)) + data


def onnx_model(tensors):
    """A minimal ONNX ModelProto: graph of float initializers {name: [floats]}."""
    graph = field_bytes(2, b"oxide-integration")
    for name, values in tensors.items():
        t = field_varint(1, len(values)) + field_varint(2, 1) + field_bytes(8, name.encode())
        t += field_bytes(9, struct.pack("<%df" % len(values), *values))
        graph += field_bytes(5, t)
    opset = field_bytes(1, b"") + field_varint(2, 13)
    return (field_varint(1, 7) + field_bytes(2, b"oxide-test") + field_bytes(7, graph) +
            field_bytes(8, opset))


def two_model_versions(seed=7, n=4, size=64 * 1024):
    rng = random.Random(seed)
    v1 = {"w%d" % i: [rng.gauss(0, 1) for _ in range(size)] for i in range(n)}
    v2 = {k: list(v) for k, v in v1.items()}
    for i in range(0, size, 97):  # fine-tune: touch ~1% of one tensor
        v2["w1"][i] += 0.01
    return onnx_model(v1), onnx_model(v2)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def wait_until(what, fn, timeout=120, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)  # polling interval of an observable condition, not a sync sleep
