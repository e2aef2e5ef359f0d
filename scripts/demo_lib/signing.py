"""Signed releases for the loopback fleet and the integration tests (Python 3 stdlib only).

One release key per run (`oxide keys generate`); every uploaded version is signed with
`oxide release sign` and its envelope PUT to the server; agents get `--trusted-keys`. The
counter follows the version's number ("v5" -> 5), so a version uploaded early but rolled out
late is not mistaken for a rollback; versions without digits take the upload order.
"""
import os
import re
import subprocess


class ReleaseSigner:
    def __init__(self, oxide, work, expires_in="30d"):
        self.oxide = oxide
        self.dir = os.path.join(work, "release-keys")
        os.makedirs(self.dir, exist_ok=True)
        self.prefix = os.path.join(self.dir, "release")
        self.expires_in = expires_in
        self.uploads = 0
        if not os.path.exists(self.prefix + ".pem"):
            subprocess.run([oxide, "keys", "generate", "--out", self.prefix], check=True,
                           stdout=subprocess.DEVNULL)

    @property
    def keys(self):
        return self.prefix + ".keys.json"

    def agent_args(self):
        return ["--trusted-keys", self.keys]

    def counter(self, version):
        self.uploads += 1
        digits = re.findall(r"\d+", version)
        return int("".join(digits)) if digits else self.uploads

    def sign(self, model_id, version, blob, counter=None, expires=None):
        """Signs `blob` as model_id@version; returns the envelope (bytes)."""
        path = os.path.join(self.dir, f"{model_id}-{version}.bin")
        out = os.path.join(self.dir, f"{model_id}-{version}.release.json")
        with open(path, "wb") as f:
            f.write(blob)
        n = self.counter(version) if counter is None else counter
        expiry = ["--expires", expires] if expires else ["--expires-in", self.expires_in]
        subprocess.run([self.oxide, "release", "sign", path, "--model", model_id,
                        "--version", version, "--counter", str(n), *expiry,
                        "--key", self.prefix + ".pem", "-o", out],
                       check=True, stdout=subprocess.DEVNULL)
        os.remove(path)
        with open(out, "rb") as f:
            return f.read()

    def publish(self, api, model_id, version, blob, **kw):
        """Signs and PUTs the release of an uploaded version (api: fleet.Api-like .ok())."""
        envelope = self.sign(model_id, version, blob, **kw)
        return api.ok("PUT", f"/api/v1/models/{model_id}/versions/{version}/release",
                      raw=envelope)
