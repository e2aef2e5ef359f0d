#!/usr/bin/env python3
"""The front door of the real binaries: help listings, usage lines and exact exit codes.

`oxide --help` lists every subcommand (serve and agent included), each command's usage line
starts with "oxide <cmd>", `oxide help [cmd]` works, and usage errors exit 2 (README's table),
never CLI11's own 105-109, for the offline commands, serve and agent alike; `oxide-delta` too.

Usage: cli_usage.py OXIDE OXIDE_DELTA
"""
import os
import subprocess
import sys
import tempfile

COMMANDS = ["diff", "patch", "inspect", "delta-bench", "serve", "agent", "encrypt", "decrypt",
            "enc-key", "simulate", "run", "bench"]
failures = []


def run(binary, *args, timeout=30):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def expect(binary, args, code, stdout_has=(), stdout_lacks=()):
    rc, out, err = run(binary, *args)
    name = "%s %s" % (os.path.basename(binary), " ".join(args))
    problems = []
    if rc != code:
        problems.append("exit %d, want %d" % (rc, code))
    problems += ["stdout lacks %r" % s for s in stdout_has if s not in out]
    problems += ["stdout has %r" % s for s in stdout_lacks if s in out]
    if problems:
        failures.append("%s: %s\n  stdout: %s\n  stderr: %s" % (name, "; ".join(problems),
                                                               out[-600:], err[-600:]))
    else:
        print("ok: %s -> %d" % (name, rc))
    return out


def main():
    oxide, oxide_delta = sys.argv[1], sys.argv[2]
    listing = ["\n  %s " % c for c in COMMANDS]
    top = expect(oxide, ["--help"], 0, stdout_has=listing + ["Usage: oxide [OPTIONS] SUBCOMMAND"])
    expect(oxide, ["help"], 0, stdout_has=[top])
    for cmd in COMMANDS:
        usage = "Usage: oxide %s [OPTIONS]" % cmd
        text = expect(oxide, ["help", cmd], 0, stdout_has=[usage, "-v,--verbose", "--log-level"])
        expect(oxide, [cmd, "--help"], 0, stdout_has=[text])
    for cmd in ["serve", "agent"]:
        expect(oxide, ["help", cmd], 0, stdout_has=["--log-format"])

    with tempfile.TemporaryDirectory() as tmp:
        usage_errors = [
            [], ["frobnicate"], ["--bogus"], ["help", "frobnicate"],
            ["diff", "a.onnx"], ["inspect", "--bogus", "a.onnx"], ["inspect", "-v", "--log-level"],
            ["diff", "a", "b", "-o", "p", "--level", "99"], ["inspect", "--log-level", "loud", "a"],
            ["run"], ["run", "m.onnx", "--zeros", "--random", "1"],
            ["run", "m.onnx", "--tolerance", "0.1"], ["bench", "m.onnx", "--coverage", "d"],
            ["serve", "--bogus"], ["serve", "--port", "http"], ["serve", "--threads", "0"],
            ["serve", "--log-format", "xml"], ["serve", "extra-positional"],
            ["agent", "--bogus"], ["agent"], ["agent", "--poll-interval", "soon"],
            ["agent", "--control-plane", "http://127.0.0.1:9", "--device-id", "bad id!",
             "--model-dir", tmp],
            ["agent", "--log-level", "loud"], ["agent", "--config", os.path.join(tmp, "nope")],
            ["simulate"], ["simulate", "--bogus"], ["simulate", "--devices", "10"],
            ["simulate", "--control-plane", "ftp://x", "--devices", "1", "--poll-interval", "1"],
            ["encrypt", "a.onnx"], ["decrypt", "a.enc"], ["enc-key"], ["enc-key", "generate"],
        ]
        for args in usage_errors:
            expect(oxide, args, 2)
        expect(oxide, ["inspect", os.path.join(tmp, "missing.onnx")], 3)
        expect(oxide, ["--version"], 0, stdout_has=["oxide 0.1.0"])

    delta_top = expect(oxide_delta, ["--help"], 0,
                       stdout_has=["Usage: oxide-delta [OPTIONS] SUBCOMMAND", "\n  diff "],
                       stdout_lacks=["\n  serve ", "\n  agent "])
    expect(oxide_delta, ["help"], 0, stdout_has=[delta_top])
    expect(oxide_delta, ["help", "patch"], 0, stdout_has=["Usage: oxide-delta patch [OPTIONS]"])
    expect(oxide_delta, ["serve"], 2)
    expect(oxide_delta, ["patch", "--bogus"], 2)

    if failures:
        print("\n".join(["FAIL: " + f for f in failures]))
        sys.exit(1)
    print("cli usage OK")


if __name__ == "__main__":
    main()
