#!/usr/bin/env python3
"""Integration (issue #11): ONNX validation, signatures and the campaign override through the
real binary.

An ONNX upload the checker refuses is 422 with its message and leaves no version; a version whose
input shape changed is flagged; `oxide campaign create` without --allow-signature-change is
refused (409, the change named), with it the device's assignment says the change is allowed;
`oxide info --json` reads the same signature offline.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_common import ServerProcess, field_bytes, field_varint  # noqa: E402


def value_info(name, dims):
    shape = b"".join(field_bytes(1, field_varint(1, d) if isinstance(d, int)
                                 else field_bytes(2, d.encode())) for d in dims)
    tensor_type = field_varint(1, 1) + field_bytes(2, shape)  # FLOAT
    return field_bytes(1, name.encode()) + field_bytes(2, field_bytes(1, tensor_type))


def unary_model(op, dims):
    """y = op(x), x and y float tensors of shape `dims` (ints or symbol names), opset 17."""
    node = (field_bytes(1, b"x") + field_bytes(2, b"y") + field_bytes(3, b"n0") +
            field_bytes(4, op.encode()))
    graph = (field_bytes(1, node) + field_bytes(2, b"g") + field_bytes(11, value_info("x", dims)) +
             field_bytes(12, value_info("y", dims)))
    opset = field_bytes(1, b"") + field_varint(2, 17)
    return (field_varint(1, 8) + field_bytes(2, b"oxide-it") + field_bytes(7, graph) +
            field_bytes(8, opset))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-signature-")
    srv = ServerProcess(args.oxide, os.path.join(tmp, "data"), os.path.join(tmp, "server.log"))
    try:
        run(srv, args.oxide, tmp)
    except Exception:
        sys.stderr.write(open(os.path.join(tmp, "server.log")).read())
        srv.proc.kill()
        raise
    rc, _ = srv.stop()
    assert rc == 0, "server exit code %d" % rc
    print("model signature OK")
    shutil.rmtree(tmp, ignore_errors=True)  # kept on failure for the logs


def run(srv, oxide, tmp):
    srv.json("POST", "/api/v1/devices", {"id": "dev-1", "name": "Camera 1"}, expect=201)
    srv.json("POST", "/api/v1/fleets", {"id": "cams", "name": "Cameras"}, expect=201)
    srv.json("POST", "/api/v1/fleets/cams/devices/dev-1")

    bad = srv.json("POST", "/api/v1/models/det/versions/0.9", unary_model("NoSuchOp", [1, 4]),
                   expect=422)
    assert "No Op registered for NoSuchOp" in bad["error"]["message"], bad
    srv.json("GET", "/api/v1/models/det", expect=404)

    v1 = srv.json("POST", "/api/v1/models/det/versions/1.0", unary_model("Relu", ["batch", 4]),
                  expect=201)
    assert v1["signature"]["inputs"] == [{"name": "x", "dtype": "F32", "shape": ["batch", 4]}], v1
    assert v1["signature_changed"] is False, v1
    v2 = srv.json("POST", "/api/v1/models/det/versions/2.0", unary_model("Relu", ["batch", 8]),
                  expect=201)
    change = ["input 'x' shape changed: [batch,4] -> [batch,8]",
              "output 'y' shape changed: [batch,4] -> [batch,8]"]
    assert v2["signature_changed"] is True and v2["signature_change"] == change, v2

    config = os.path.join(tmp, "cli.toml")
    with open(config, "w") as f:
        f.write('server = "http://127.0.0.1:%d"\ntoken_file = "%s"\n' %
                (srv.port, os.path.join(tmp, "data", "admin.token")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OXIDE_")}
    env.update(HOME=tmp, OXIDE_CONFIG=config)
    create = [oxide, "campaign", "create", "--model", "det", "--version", "2.0", "--fleet", "cams"]
    refused = subprocess.run(create, env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0, refused
    assert "409" in refused.stderr and "input 'x' shape changed" in refused.stderr, refused.stderr
    assert "allow_signature_change" in refused.stderr, refused.stderr
    ok = subprocess.run(create + ["--allow-signature-change"], env=env, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0, ok
    hb = srv.json("POST", "/api/v1/devices/dev-1/heartbeat", {"status": "online"})
    assert hb["assignment"]["version"] == "2.0", hb
    assert hb["assignment"]["signature_change_allowed"] is True, hb

    path = os.path.join(tmp, "v2.onnx")
    with open(path, "wb") as f:
        f.write(unary_model("Relu", ["batch", 8]))
    info = json.loads(subprocess.run([oxide, "info", "--json", path], check=True,
                                     capture_output=True, text=True, timeout=60).stdout)
    assert info["inputs"] == v2["signature"]["inputs"], info
    assert info["producer"]["name"] == "oxide-it", info


if __name__ == "__main__":
    main()
