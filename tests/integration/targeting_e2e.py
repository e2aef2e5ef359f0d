#!/usr/bin/env python3
"""Integration (issue #10): real `oxide serve` and real `oxide agent --once` processes.

Three agents enroll into a fleet with an --inventory-file each; the server shows their inventory
(sent on the first heartbeat only). Two get the tag site=lyon (PUT .../tags). A canary campaign
targeted at that tag with require_approval installs on the first tagged device, then waits in
awaiting_approval; after POST .../approve the second tagged device installs it. The untagged
device is never assigned anything, however often it polls. Lists page with X-Next-After.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_common import ServerProcess, two_model_versions  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-targeting-")
    srv = ServerProcess(args.oxide, os.path.join(tmp, "data"), os.path.join(tmp, "server.log"))
    try:
        run(srv, args.oxide, tmp)
    except Exception:
        sys.stderr.write(open(os.path.join(tmp, "server.log")).read())
        srv.proc.kill()
        raise
    rc, _ = srv.stop()
    assert rc == 0, "server exit code %d" % rc
    print("targeting e2e OK")
    shutil.rmtree(tmp, ignore_errors=True)  # kept on failure for the logs


def agent_once(oxide, srv, tmp, device, token_file):
    """One heartbeat and the work it brings (download, install, health check, report)."""
    model_dir = os.path.join(tmp, device, "models")
    inventory = os.path.join(tmp, device, "inventory.json")
    os.makedirs(model_dir, exist_ok=True)
    if not os.path.exists(inventory):
        with open(inventory, "w") as f:
            json.dump({"rack": device.upper(), "camera": "imx477"}, f)
    p = subprocess.run([oxide, "agent", "--control-plane", "http://127.0.0.1:%d" % srv.port,
                        "--device-id", device, "--model-dir", model_dir,
                        "--enrollment-token-file", token_file, "--inventory-file", inventory,
                        "--allow-unsigned-releases", "--once"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert p.returncode == 0, "%s: exit %d\n%s" % (device, p.returncode, p.stdout)
    return model_dir


def run(srv, oxide, tmp):
    srv.json("POST", "/api/v1/fleets", {"id": "cams", "name": "Cameras"}, expect=201)
    token_file = os.path.join(tmp, "enroll.token")
    srv.enrollment_token("cams", token_file)
    devices = ["cam-a", "cam-b", "cam-c"]
    for d in devices:
        agent_once(oxide, srv, tmp, d, token_file)

    inv = srv.json("GET", "/api/v1/devices/cam-a")["inventory"]
    assert inv["os"] == "linux" and inv["arch"] == os.uname().machine, inv
    assert inv["agent_version"].startswith("oxide-agent/"), inv
    assert inv["attributes"] == {"rack": "CAM-A", "camera": "imx477"}, inv
    assert inv["free_disk_bytes"] > 0 and inv["updated_at"], inv

    status, headers, body = srv.request("GET", "/api/v1/devices?limit=2")
    assert status == 200 and [d["id"] for d in json.loads(body)] == ["cam-a", "cam-b"], body
    assert headers.get("x-next-after") == "cam-b", headers
    rest = srv.json("GET", "/api/v1/devices?limit=2&after=cam-b")
    assert [d["id"] for d in rest] == ["cam-c"], rest
    assert srv.request("GET", "/api/v1/devices?limit=0")[0] == 400

    for d in ["cam-a", "cam-c"]:
        tagged = srv.json("PUT", "/api/v1/devices/%s/tags" % d, {"site": "lyon"})
        assert tagged["tags"] == {"site": "lyon"}, tagged
    lyon = srv.json("GET", "/api/v1/devices?tag=site:lyon")
    assert [d["id"] for d in lyon] == ["cam-a", "cam-c"], lyon

    v1, _ = two_model_versions()
    srv.json("POST", "/api/v1/models/detector/versions/1.0", v1, expect=201)
    none = srv.request("POST", "/api/v1/campaigns",
                       {"model_id": "detector", "model_version": "1.0",
                        "target": {"tags": {"site": "mars"}}})
    assert none[0] == 422 and b"target matches no device" in none[2], none
    c = srv.json("POST", "/api/v1/campaigns",
                 {"model_id": "detector", "model_version": "1.0", "fleet_id": "cams",
                  "target": {"tags": {"site": "lyon"},
                             "inventory": {"arch": os.uname().machine}},
                  "strategy": "canary", "canary_percent": 50, "require_approval": True},
                 expect=201)
    cid = c["id"]
    assert [d["device_id"] for d in c["devices"]] == ["cam-a", "cam-c"], c["devices"]
    assert c["target"]["tags"] == {"site": "lyon"}, c["target"]

    a_dir = agent_once(oxide, srv, tmp, "cam-a", token_file)
    assert os.path.exists(os.path.join(a_dir, "detector")), os.listdir(a_dir)
    agent_once(oxide, srv, tmp, "cam-a", token_file)  # reports it runs 1.0
    state = srv.json("GET", "/api/v1/campaigns/" + cid)
    assert state["state"] == "awaiting_approval", state["state"]
    for d in ["cam-b", "cam-c", "cam-b"]:
        out = agent_once(oxide, srv, tmp, d, token_file)
        assert not os.path.exists(os.path.join(out, "detector")), d
    assert srv.request("POST", "/api/v1/campaigns/%s/pause" % cid)[0] == 409
    assert srv.json("POST", "/api/v1/campaigns/%s/approve" % cid)["state"] == "rolling_out"
    assert srv.request("POST", "/api/v1/campaigns/%s/approve" % cid)[0] == 409

    c_dir = agent_once(oxide, srv, tmp, "cam-c", token_file)
    assert os.path.exists(os.path.join(c_dir, "detector")), os.listdir(c_dir)
    agent_once(oxide, srv, tmp, "cam-c", token_file)
    b_dir = agent_once(oxide, srv, tmp, "cam-b", token_file)
    assert not os.path.exists(os.path.join(b_dir, "detector")), "untagged device got the model"
    assert srv.json("GET", "/api/v1/devices/cam-b")["assignment"] is None
    done = srv.json("GET", "/api/v1/campaigns/" + cid)
    assert done["state"] == "completed", done["state"]
    assert done["summary"]["complete"] == 2 and done["summary"]["total"] == 2, done["summary"]
    listed = srv.json("GET", "/api/v1/campaigns?state=completed")
    assert [x["id"] for x in listed["campaigns"]] == [cid] and listed["next_after"] is None


if __name__ == "__main__":
    main()
