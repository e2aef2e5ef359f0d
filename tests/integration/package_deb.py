#!/usr/bin/env python3
"""Packaging: the .deb that `make package` builds installs into a scratch root and runs.

cpack (the build tree's CPackConfig.cmake) writes the .deb into a temp dir; `dpkg --root` with a
private admin dir installs it into a scratch root (dependencies are not checked there: the
scratch root has no libc; the binary runs with the host's libraries), then `oxide --version`
runs from that root. Also checked: the control fields (name, version, shlibs Depends) and
that the units and configs land where the units expect them.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit("FAILED: %s (exit %d)\n%s\n%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--deb", help="use this .deb instead of building one")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="oxide-deb-")
    try:
        deb = args.deb
        if not deb:
            out = os.path.join(tmp, "out")
            run(["cpack", "-G", "DEB", "--config",
                 os.path.join(args.build_dir, "CPackConfig.cmake"), "-B", out,
                 "-D", "CPACK_OUTPUT_FILE_PREFIX=" + out])
            debs = [f for f in os.listdir(out) if f.endswith(".deb")]
            assert len(debs) == 1, os.listdir(out)
            deb = os.path.join(out, debs[0])
        fields = run(["dpkg-deb", "--field", deb, "Package", "Version", "Depends"])
        print(fields.strip())
        assert "Package: oxide\n" in fields, fields
        assert "Version: %s\n" % args.version in fields, fields
        assert "libc6" in fields and "libsqlite3" in fields and "libprometheus-cpp-core" in fields, \
            fields
        conffiles = run(["dpkg-deb", "--info", deb, "conffiles"])
        assert "/etc/oxide/serve.toml" in conffiles, conffiles

        root = os.path.join(tmp, "root")
        admin = os.path.join(root, "var", "lib", "dpkg")
        os.makedirs(os.path.join(admin, "updates"))
        os.makedirs(os.path.join(admin, "info"))
        open(os.path.join(admin, "status"), "w").close()
        run(["dpkg", "--root=" + root, "--admindir=" + admin, "--log=/dev/null",
             "--force-depends", "--force-not-root", "--force-bad-path", "--no-triggers",
             "--install", deb])
        status = run(["dpkg-query", "--admindir=" + admin, "-W", "-f=${Status} ${Version}",
                      "oxide"])
        assert status == "install ok installed " + args.version, status
        for path in ("usr/bin/oxide", "usr/bin/oxide-delta",
                     "usr/lib/systemd/system/oxide-server.service",
                     "usr/lib/systemd/system/oxide-agent.service",
                     "etc/oxide/serve.toml", "etc/oxide/agent.toml"):
            assert os.path.exists(os.path.join(root, path)), path
        version = run([os.path.join(root, "usr/bin/oxide"), "--version"])
        assert version.strip() == "oxide " + args.version, version
        # The shipped example config is valid for the shipped binary.
        printed = run([os.path.join(root, "usr/bin/oxide"), "serve", "--config",
                       os.path.join(root, "etc/oxide/serve.toml"), "--print-config"],
                      env={"PATH": "/usr/bin:/bin"})
        assert 'data-dir = "/var/lib/oxide-server"' in printed, printed
        printed = run([os.path.join(root, "usr/bin/oxide"), "agent", "--config",
                       os.path.join(root, "etc/oxide/agent.toml"), "--print-config"],
                      env={"PATH": "/usr/bin:/bin"})
        assert 'model-dir = "/var/lib/oxide-agent/models"' in printed, printed
        print(version.strip(), "ran from", root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("package OK")


if __name__ == "__main__":
    main()
