#!/usr/bin/python3
"""Exports the inference coverage fixtures with Debian's torch (python3-torch 1.13).

Run from the repository root: /usr/bin/python3 tests/models/generate.py
For each architecture and opset (13, 17) it writes tests/models/<arch>-op<opset>.onnx and
tests/models/<arch>-op<opset>.golden.safetensors: a golden file (src/inference/golden.hpp) with
the input "input.x" and torch's output "output.y". SafeTensors is written by hand (the
`safetensors` package is not in Debian): 8-byte little-endian header length, JSON header,
raw little-endian data.
"""
import json
import os
import struct
import sys

import torch
from torch import nn

OUT = os.path.dirname(os.path.abspath(__file__))


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().to(torch.float32)
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.net(x)


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class InvertedResidual(nn.Module):
    def __init__(self, c, expand):
        super().__init__()
        h = c * expand
        self.block = nn.Sequential(
            nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
            nn.Conv2d(h, h, 3, padding=1, groups=h, bias=False), nn.BatchNorm2d(h), nn.ReLU6(),
            nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.block(x)


class MobileNetLike(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(16), nn.ReLU6())
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False),
                                nn.BatchNorm2d(16), nn.ReLU6(),
                                nn.Conv2d(16, 24, 1, bias=False), nn.BatchNorm2d(24))
        self.res = InvertedResidual(24, 4)
        self.head = nn.Linear(24, 10)

    def forward(self, x):
        x = self.res(self.dw(self.stem(x)))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class Gru(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(8, 16, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


class Lstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 16, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


class Transformer(nn.Module):
    """One pre-norm-free encoder block written out (attention + LayerNorm + feed-forward)."""

    def __init__(self, d=32, heads=4):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm1 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 64), nn.GELU(), nn.Linear(64, d))
        self.norm2 = nn.LayerNorm(d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        hd = d // self.heads
        q = q.reshape(b, t, self.heads, hd).transpose(1, 2)
        k = k.reshape(b, t, self.heads, hd).transpose(1, 2)
        v = v.reshape(b, t, self.heads, hd).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-2, -1) / (hd ** 0.5), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = self.norm1(x + self.proj(y))
        return self.norm2(x + self.ff(x))


ARCHS = [
    ("mlp", Mlp, (1, 16)),
    ("cnn", Cnn, (1, 3, 16, 16)),
    ("mobilenet", MobileNetLike, (1, 3, 32, 32)),
    ("gru", Gru, (1, 5, 8)),
    ("lstm", Lstm, (1, 5, 8)),
    ("transformer", Transformer, (1, 6, 32)),
]


def randomise_batchnorm(model):
    # Trained statistics, not the defaults (mean 0, var 1), so BN folding is really exercised.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)


def main():
    only = set(sys.argv[1:])
    for name, cls, shape in ARCHS:
        if only and name not in only:
            continue
        torch.manual_seed(11)
        model = cls()
        randomise_batchnorm(model)
        model.eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            y = model(x)
        for opset in (13, 17):
            stem = os.path.join(OUT, "%s-op%d" % (name, opset))
            torch.onnx.export(model, (x,), stem + ".onnx", input_names=["x"],
                              output_names=["y"], opset_version=opset)
            write_safetensors(stem + ".golden.safetensors",
                              {"input.x": x, "output.y": y},
                              {"oxide.golden": "1", "tolerance": "0.0001",
                               "generator": "tests/models/generate.py torch %s opset %d"
                                            % (torch.__version__, opset)})
            print("%s: %d bytes" % (stem, os.path.getsize(stem + ".onnx")))


if __name__ == "__main__":
    main()
