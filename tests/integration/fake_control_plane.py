"""A minimal control plane for agent tests that need no `oxide serve` (stdlib only).

Accepts every enrollment (POST /api/v1/enroll) and then wants the device's credential
(Authorization + X-Oxide-Device-Id, as enrolled) on every other call, like `oxide serve`.
Answers every heartbeat with the current assignment, serves the assigned models' bytes, and
keeps what the agent reported (heartbeat bodies) and how many body bytes each download sent.
"""
import hashlib
import http.server
import json
import threading


class FakeControlPlane:
    def __init__(self):
        self.models = {}  # version -> bytes
        self.assigned = None  # version or None
        self.heartbeats = []  # parsed heartbeat bodies, oldest first
        self.bytes_sent = {}  # version -> body bytes sent
        self.releases = {}  # version -> signed release envelope (dict), sent with the assignment
        self.served = {}  # version -> bytes served instead of models[version] (tampering)
        self.key_chain = None  # dict served at GET /api/v1/keys; None: 404
        self.secrets = {}  # device id -> secret it enrolled with
        self.refused = 0  # calls without the enrolled credential (401)
        self.lock = threading.Lock()
        plane = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, obj):
                out = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def authorized(self):
                device = self.headers.get("X-Oxide-Device-Id", "")
                want = plane.secrets.get(device)
                if want is not None and self.headers.get("Authorization") == "Bearer " + want:
                    return True
                with plane.lock:
                    plane.refused += 1
                self.reply(401, {"error": "unauthenticated", "message": "no credential"})
                return False

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path == "/api/v1/enroll":
                    req = json.loads(body)
                    with plane.lock:
                        plane.secrets[req["device_id"]] = req["secret"]
                    return self.reply(200, {"status": "accepted"})
                if not self.authorized():
                    return
                with plane.lock:
                    try:
                        plane.heartbeats.append(json.loads(body or b"{}"))
                    except ValueError:
                        pass
                    v = plane.assigned
                    a = None if v is None else {
                        "model_id": "m", "version": v, "size_bytes": len(plane.models[v]),
                        "sha256": hashlib.sha256(plane.models[v]).hexdigest(),
                        "campaign_id": "c1"}
                    if a is not None and v in plane.releases:
                        a["release"] = plane.releases[v]
                out = json.dumps({"status": "ok", "assignment": a}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):
                if not self.authorized():
                    return
                if self.path == "/api/v1/keys" and plane.key_chain is not None:
                    out = json.dumps(plane.key_chain).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                parts = self.path.split("/")  # /api/v1/models/m/versions/<v>/download
                v = parts[6] if len(parts) == 8 and parts[7] == "download" else None
                data = plane.served.get(v, plane.models.get(v))
                if data is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                sha = hashlib.sha256(data).hexdigest()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("X-Oxide-SHA256", sha)
                self.send_header("ETag", '"' + sha + '"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with plane.lock:
                    plane.bytes_sent[v] = plane.bytes_sent.get(v, 0) + len(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def last_error(self):
        with self.lock:
            for hb in reversed(self.heartbeats):
                u = hb.get("update") or {}
                if u.get("error"):
                    return u["error"]
        return ""

    def shutdown(self):
        self.server.shutdown()
