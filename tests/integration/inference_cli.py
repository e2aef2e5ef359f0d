#!/usr/bin/env python3
"""`oxide run` and `oxide bench` through the binary (built with OXIDE_WITH_INFERENCE=ON).

- `oxide bench` on the bundled example model prints p50/p95/p99/max latencies and throughput
  (text and --json);
- `oxide run --input` on torch's inputs (tests/models/*.golden.safetensors) writes outputs within
  1e-4 of torch's, read back here with a SafeTensors parser of our own;
- a bad input file and a wrong input shape exit non-zero with one line naming them.

Usage: inference_cli.py --oxide OXIDE
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "tests", "models")


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        assert info["dtype"] == "F32", info
        tensors[name] = (info["shape"], struct.unpack("<%df" % ((end - begin) // 4), body[begin:end]))
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        shape, values = tensors[name]
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def oxide(binary, *args):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oxide", required=True)
    a = ap.parse_args()
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL:", what, file=sys.stderr)

    example = os.path.join(ROOT, "examples", "models", "mlp-mnist-v1.onnx")
    r = oxide(a.oxide, "bench", example, "--warmup", "5", "--iterations", "50")
    check(r.returncode == 0, "bench exit %d: %s" % (r.returncode, r.stderr))
    for word in ("p50", "p95", "p99", "max", "throughput"):
        check(word in r.stdout, "bench output lacks %s: %r" % (word, r.stdout))
    print(r.stdout, end="")
    r = oxide(a.oxide, "bench", example, "--iterations", "20", "--json")
    check(r.returncode == 0, "bench --json exit %d" % r.returncode)
    j = json.loads(r.stdout)
    check(0 < j["p50_ms"] <= j["p95_ms"] <= j["p99_ms"] <= j["max_ms"], "percentiles %r" % j)
    check(j["iterations"] == 20 and j["throughput_per_s"] > 0, "bench json %r" % j)

    with tempfile.TemporaryDirectory() as tmp:
        for name in ("mlp-op13", "cnn-op17", "mobilenet-op17", "gru-op13", "lstm-op17"):
            golden = read_safetensors(os.path.join(MODELS, name + ".golden.safetensors"))
            inputs = {k[len("input."):]: v for k, v in golden.items() if k.startswith("input.")}
            write_safetensors(os.path.join(tmp, "in.safetensors"), inputs)
            out = os.path.join(tmp, "out.safetensors")
            r = oxide(a.oxide, "run", os.path.join(MODELS, name + ".onnx"), "--input",
                      os.path.join(tmp, "in.safetensors"), "--output", out)
            check(r.returncode == 0, "%s: run exit %d: %s" % (name, r.returncode, r.stderr))
            got = read_safetensors(out)
            shape, want = golden["output.y"]
            check(got["y"][0] == shape, "%s: shape %r != %r" % (name, got["y"][0], shape))
            diff = max(abs(x - y) for x, y in zip(want, got["y"][1]))
            check(diff <= 1e-4, "%s: max |diff| %g > 1e-4" % (name, diff))
            print("%s: max |diff| vs torch %.3g" % (name, diff))

        bad = os.path.join(tmp, "bad.safetensors")
        with open(bad, "wb") as f:
            f.write(b"not a tensor file")
        r = oxide(a.oxide, "run", example, "--input", bad)
        check(r.returncode != 0 and r.stderr.count("\n") == 1 and "input file" in r.stderr,
              "bad input file: %d %r" % (r.returncode, r.stderr))
        wrong = os.path.join(tmp, "wrong.safetensors")
        write_safetensors(wrong, {"x": ([2, 2], [0.0] * 4)})
        r = oxide(a.oxide, "run", os.path.join(MODELS, "mlp-op13.onnx"), "--input", wrong)
        check(r.returncode != 0 and r.stderr.count("\n") == 1 and "input 'x' has shape [2,2]"
              in r.stderr, "wrong shape: %d %r" % (r.returncode, r.stderr))

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
