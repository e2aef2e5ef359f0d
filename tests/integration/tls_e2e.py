#!/usr/bin/env python3
"""Integration: `oxide serve --tls-cert --tls-key` and `oxide agent --ca-file`, real binaries.

A throwaway CA and server certificate (127.0.0.1 / localhost) are made with the openssl CLI in
a temp dir at test time; no key is ever committed.
- the server answers HTTPS (TLS 1.2 and 1.3) and does not speak plain HTTP on that port;
- an agent with --ca-file heartbeats, downloads and installs a model over HTTPS;
- an agent without the CA refuses the server and says why (certificate verification);
- an agent refuses http:// to a non-loopback address at start (exit 2, one line) unless
  --allow-http.
Exit 0 on success.
"""
import argparse
import http.client
import json
import os
import select
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_common import onnx_model, sha256, wait_until  # noqa: E402


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_certs(d):
    """ca.pem (a private CA) and server.pem/server.key for 127.0.0.1 signed by it."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
            "/CN=oxide test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    os.remove(os.path.join(d, "ca.key"))  # the CA signs once; nothing else needs its key


class TlsServer:
    def __init__(self, oxide, tmp):
        self.log = open(os.path.join(tmp, "server.log"), "ab")
        self.data_dir = os.path.join(tmp, "data")
        self.proc = subprocess.Popen(
            [oxide, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir",
             os.path.join(tmp, "data"), "--tls-cert", os.path.join(tmp, "server.pem"),
             "--tls-key", os.path.join(tmp, "server.key")],
            stdout=subprocess.PIPE, stderr=self.log)
        self.ctx = ssl.create_default_context(cafile=os.path.join(tmp, "ca.pem"))
        self.port = None
        deadline = time.monotonic() + 30
        buf = b""
        marker = "listening on https://127.0.0.1:"
        while self.port is None:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError("server did not report an https port: %r" % buf)
            if select.select([self.proc.stdout], [], [], left)[0]:
                buf += os.read(self.proc.stdout.fileno(), 4096)
                for line in buf.decode(errors="replace").splitlines():
                    if marker in line:
                        self.port = int(line.split(marker)[1].split()[0])

    def request(self, method, path, body=None, ctx=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30,
                                           context=ctx or self.ctx)
        headers = {"Authorization": "Bearer " + self.admin_token()}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    def admin_token(self):
        with open(os.path.join(self.data_dir, "admin.token")) as f:
            return f.read().strip()

    def json(self, method, path, body=None, expect=200):
        status, data = self.request(method, path, body)
        assert status == expect, "%s %s -> %d: %s" % (method, path, status, data)
        return json.loads(data) if data else None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        self.log.close()
        return rc


def agent(oxide, tmp, name, control_plane, *extra, timeout=60):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    return subprocess.run(
        [oxide, "agent", "--control-plane", control_plane, "--device-id", name, "--model-dir",
         os.path.join(d, "models"), "--poll-interval", "0.2", "--once",
         "--allow-unsigned-releases", *extra],  # signing: agent_signed_releases.py
        capture_output=True, text=True, timeout=timeout)


def check_server(srv):
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = srv.ctx
        ctx.minimum_version = ctx.maximum_version = version
        status, data = srv.request("GET", "/health", ctx=ctx)
        assert status == 200 and b"healthy" in data, (version, status, data)
    srv.ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    srv.ctx.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    # Plain HTTP on the TLS port gets no HTTP answer.
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=15)
    try:
        conn.request("GET", "/health")
        answered = conn.getresponse().status
    except (OSError, http.client.HTTPException):
        answered = None
    assert answered is None, "plain HTTP was answered on the TLS port: %r" % answered
    # Old protocols and non-AEAD suites are refused even when the client offers nothing else.
    for args in (["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], ["-tls1_2", "-cipher", "AES128-SHA"]):
        out = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.port,
                              *args], input="", capture_output=True, text=True, timeout=30)
        assert "Cipher is (NONE)" in out.stdout, (args, out.stdout[-2000:])
    print("ok: HTTPS /health over TLS 1.2 and 1.3; TLS 1.1 and a non-AEAD TLS 1.2 suite are "
          "refused; plain HTTP on the TLS port gets no answer")


def run(oxide, tmp):
    make_certs(tmp)
    ca = os.path.join(tmp, "ca.pem")
    openssl("genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out",
            "other.key", cwd=tmp)
    r = subprocess.run([oxide, "serve", "--port", "0", "--data-dir", os.path.join(tmp, "bad"),
                        "--tls-cert", os.path.join(tmp, "server.pem"), "--tls-key",
                        os.path.join(tmp, "other.key")], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2 and "--tls-key" in r.stderr and "match" in r.stderr, (
        r.returncode, r.stderr)
    print("ok: a key that does not match the certificate stops the server at start (exit 2)")
    srv = TlsServer(oxide, tmp)
    try:
        check_server(srv)
        url = "https://127.0.0.1:%d" % srv.port
        model = onnx_model({"w": [0.5] * 4096})
        srv.json("POST", "/api/v1/models/det/versions/1.0", model, expect=201)
        srv.json("POST", "/api/v1/fleets", {"id": "f", "name": "F"}, expect=201)
        enrollment = os.path.join(tmp, "f.token")
        with open(enrollment, "w") as f:
            f.write(srv.json("POST", "/api/v1/fleets/f/enrollment-tokens", expect=201)["token"])
        # The device enrolls into f over HTTPS (one --once pass), then a campaign targets it.
        r = agent(oxide, tmp, "tls-ok", url, "--ca-file", ca, "--enrollment-token-file", enrollment)
        assert r.returncode == 0, "agent enrollment with --ca-file failed:\n" + r.stderr
        srv.json("POST", "/api/v1/campaigns", {"model_id": "det", "model_version": "1.0",
                                               "fleet_id": "f", "strategy": "all_at_once"},
                 expect=201)

        r = agent(oxide, tmp, "tls-ok", url, "--ca-file", ca, "--enrollment-token-file", enrollment)
        assert r.returncode == 0, "agent with --ca-file failed:\n" + r.stderr
        installed = os.path.join(tmp, "tls-ok", "models", "det")
        wait_until("the model installed over HTTPS", lambda: os.path.exists(installed), 30)
        got = open(os.path.join(installed, os.listdir(installed)[0]), "rb").read() \
            if os.path.isdir(installed) else open(installed, "rb").read()
        assert sha256(got) == sha256(model), "installed bytes differ"
        print("ok: agent with --ca-file heartbeat + download + install over HTTPS")

        r = agent(oxide, tmp, "tls-noca", url, "--enrollment-token-file", enrollment)
        assert r.returncode != 0, "agent without the CA succeeded:\n" + r.stderr
        assert "TLS: cannot verify the server" in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(tmp, "tls-noca", "models", "det"))
        line = [x for x in r.stderr.splitlines() if "TLS: cannot verify" in x][0]
        print("ok: agent without the CA refuses: " + line.strip()[:160])
    finally:
        assert srv.stop() == 0

    r = agent(oxide, tmp, "plain", "http://192.0.2.1:8080", timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and "refusing plain HTTP to 192.0.2.1" in r.stderr, r.stderr
    assert "--allow-http" in r.stderr, r.stderr
    print("ok: http:// to 192.0.2.1 refused at start: " + r.stderr.strip())
    # --allow-http lifts the refusal: the agent starts (its start line names the control
    # plane) and is stopped there; whether 192.0.2.1 answers does not matter.
    d = os.path.join(tmp, "plain-ok")
    log_path = os.path.join(tmp, "plain-ok.log")
    with open(log_path, "wb") as log:
        p = subprocess.Popen([oxide, "agent", "--control-plane", "http://192.0.2.1:8080",
                              "--device-id", "plain-ok", "--model-dir", d, "--allow-http",
                              "--allow-unsigned-releases"],
                             stdout=log, stderr=log)
    try:
        wait_until("the agent to start with --allow-http",
                   lambda: p.poll() is not None or
                   "control plane http://192.0.2.1" in open(log_path, errors="replace").read(),
                   30)
        text = open(log_path, errors="replace").read()
        assert "control plane http://192.0.2.1" in text and "refusing" not in text, text
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    print("ok: --allow-http accepts it")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    if shutil.which("openssl") is None:
        print("openssl CLI not found: skipped")
        return 77
    tmp = tempfile.mkdtemp(prefix="oxide-tls-")
    try:
        run(args.oxide, tmp)
    except Exception:
        log = os.path.join(tmp, "server.log")
        if os.path.exists(log):
            sys.stderr.write(open(log, errors="replace").read()[-4000:])
        raise
    shutil.rmtree(tmp, ignore_errors=True)  # kept on failure for the logs
    print("tls_e2e OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
