#!/usr/bin/env python3
"""`oxide encrypt` / `oxide decrypt` stream in constant memory: a 256 MiB file round-trips
while the process's address space is capped (RLIMIT_AS, what `ulimit -v` sets) at what the
binary needs to start plus 48 MiB, so neither command can hold the file, or even a quarter of
it, in memory. Also checks that the
bytes match (SHA-256), that peak RSS stays small, that a copy cut exactly at a chunk
boundary or extended with trailing bytes is refused with exit 5 under the same limit, leaving
no output file, and that `encrypt` and `oxide agent --encryption-key-file` refuse a key file
others can read (exit 4).

Usage: encrypt_large_file.py OXIDE [SIZE_MIB]
"""
import hashlib
import os
import resource
import subprocess
import sys
import tempfile

HEADROOM = 48 << 20     # address space allowed beyond what the bare binary maps
LIMIT_BYTES = 0         # set by main(): the binary's start-up need + HEADROOM
HEADER = 64             # docs/format/encrypted-file.md
CHUNK = 64 << 10        # the default chunk size
TAG = 16


def limited():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))


def startup_need(oxide):
    """Smallest address-space cap (8 MiB steps) under which `oxide --version` runs: the binary
    and its shared libraries (OpenCV, libonnx, ...) map this much before doing anything."""
    for mib in range(32, 1024, 8):
        cap = mib << 20
        r = subprocess.run([oxide, "--version"], capture_output=True,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap)))
        if r.returncode == 0:
            return cap
    raise SystemExit("FAIL: oxide --version does not run under a 1 GiB address-space cap")


def run(oxide, *args):
    """Runs oxide under the memory cap; returns (exit code, its peak RSS in MiB, output)."""
    with tempfile.TemporaryFile() as log:
        p = subprocess.Popen([oxide, *args], preexec_fn=limited, stdout=log,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)  # this child's own rusage (ru_maxrss in KiB)
        p.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        return p.returncode, usage.ru_maxrss / 1024, log.read().decode().strip()


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    oxide = sys.argv[1]
    size_mib = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    global LIMIT_BYTES
    LIMIT_BYTES = startup_need(oxide) + HEADROOM
    print("address-space cap %d MiB (start-up need + %d MiB)" % (LIMIT_BYTES >> 20, HEADROOM >> 20))
    failures = []

    def check(cond, what):
        print(("ok: " if cond else "FAIL: ") + what)
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        model, enc, out, key = (os.path.join(tmp, n) for n in ("m.bin", "m.bin.enc", "out", "k"))
        h = hashlib.sha256()
        with open(model, "wb") as f:
            block = os.urandom(1 << 20)
            for i in range(size_mib):
                # Every MiB differs (cheap): a chunk reordering bug could not go unnoticed.
                b = i.to_bytes(8, "little") + block[8:]
                h.update(b)
                f.write(b)
        want = h.hexdigest()
        size = size_mib << 20
        check(size > 4 * HEADROOM, "the file (%d MiB) is far larger than the headroom" % size_mib)

        rc, _, text = run(oxide, "enc-key", "generate", "-o", key)
        check(rc == 0, "enc-key generate: " + text)
        check(os.stat(key).st_mode & 0o777 == 0o600, "key file mode 0600")
        # The agent refuses a device key others can read, before any network or disk work.
        os.chmod(key, 0o644)
        rc, _, text = run(oxide, "agent", "--control-plane", "http://127.0.0.1:9",
                          "--device-id", "d1", "--model-dir", os.path.join(tmp, "models"),
                          "--encryption-key-file", key, "--once",
                          "--allow-unsigned-releases")
        check(rc == 4 and "chmod 600" in text, "agent refuses a 0644 key: exit %d %s" % (rc, text))
        rc, _, text = run(oxide, "encrypt", model, "--key", key, "-o", enc)
        check(rc == 4 and not os.path.exists(enc), "encrypt refuses a 0644 key: exit %d" % rc)
        os.chmod(key, 0o600)

        rc, peak, text = run(oxide, "encrypt", model, "--key", key, "-o", enc)
        check(rc == 0, "encrypt under a %d MiB limit (exit %d): %s" % (LIMIT_BYTES >> 20, rc, text))
        print("encrypt peak RSS %.1f MiB" % peak)
        check(peak < 32, "encrypt peak RSS %.1f MiB < 32 MiB" % peak)
        chunks = (size + CHUNK - 1) // CHUNK
        check(os.path.getsize(enc) == HEADER + size + chunks * TAG, "encrypted size")

        rc, peak, text = run(oxide, "decrypt", enc, "--key", key, "-o", out)
        check(rc == 0, "decrypt under the limit (exit %d): %s" % (rc, text))
        print("decrypt peak RSS %.1f MiB" % peak)
        check(peak < 32, "decrypt peak RSS %.1f MiB < 32 MiB" % peak)
        check(sha256_of(out) == want, "decrypted SHA-256 matches the original")
        os.remove(out)

        # Cut exactly after a whole chunk in the middle: every chunk left is authentic.
        with open(enc, "r+b") as f:
            f.truncate(HEADER + (chunks // 2) * (CHUNK + TAG))
        rc, _, text = run(oxide, "decrypt", enc, "--key", key, "-o", out)
        check(rc == 5 and "truncated" in text, "truncated at a chunk boundary: exit %d %s" % (rc, text))
        check(not os.path.exists(out), "no output after the refused decrypt")
        check(sorted(os.listdir(tmp)) == ["k", "m.bin", "m.bin.enc"],
              "no temp file left behind: %s" % sorted(os.listdir(tmp)))

        os.remove(enc)
        rc, _, _ = run(oxide, "encrypt", model, "--key", key, "-o", enc)
        with open(enc, "ab") as f:
            f.write(b"\0" * 100)
        rc, _, text = run(oxide, "decrypt", enc, "--key", key, "-o", out)
        check(rc == 5, "trailing bytes: exit %d %s" % (rc, text))
        check(not os.path.exists(out), "no output after the refused decrypt")

    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
