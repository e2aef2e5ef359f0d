#!/usr/bin/python3
"""Trains and exports the generated benchmark corpus of real model version pairs (issue #13).

Each pair is (base, target): base is a model pretrained on a synthetic but learnable task A,
target is the same model after a real fine-tune on task B (or more steps, a merged LoRA, a grown
head, magnitude pruning, a re-quantised int8 release, another ONNX opset...). Every pair
directory holds base.<ext>, target.<ext> and pair.json ({"name", "group", "scenario", "format",
"dtype", "arch", ...}, compatible with the hand-made corpus in /work/shared/corpus/dev), and
`oxide delta-bench DIR` reads it directly.

The corpus is cached in ${XDG_CACHE_HOME:-~/.cache}/oxide/corpus-<hash of this script>/: a
re-run with the same script prints that path at once. It is built in a temporary sibling
directory and renamed into place only when complete, so an interrupted run leaves no half
corpus behind. The last line on stdout is the corpus path.

Needs Debian's python3-torch, python3-onnx and python3-numpy (`scripts/bootstrap --bench`);
run it with /usr/bin/python3 (a pyenv or venv python does not see Debian's packages).
Everything is seeded and single-threaded, so two runs produce the same files.
"""
import argparse
import hashlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper

# ----------------------------------------------------------------------------------------------
# Synthetic tasks. Each returns a sampler(batch, rng) -> (x, y); task A pretrains, task B is a
# related but shifted task (new class centres / colours / topics), as a real fine-tune would be.


class Clusters:
    """make_classification-like: each class is a mixture of gaussian clusters in `dim` dims."""

    def __init__(self, seed, dim, classes, shift_from=None, spread=0.2, shift=0.12):
        # Centres this close (unit noise) keep the task hard enough that the loss never reaches
        # zero, so a fine-tune keeps moving the weights as it would on real data.
        g = np.random.default_rng(seed)
        if shift_from is None:
            self.centres = g.normal(0, spread, size=(classes, 2, dim)).astype(np.float32)
        else:  # task B: the old centres moved a little, plus new ones for grown heads
            old = shift_from.centres
            extra = g.normal(0, spread, size=(max(0, classes - old.shape[0]), 2, dim))
            moved = old[:classes] + g.normal(0, shift, size=old[:classes].shape)
            self.centres = np.concatenate([moved, extra]).astype(np.float32)
        self.classes = classes

    def sample(self, batch, g):
        y = g.integers(0, self.classes, size=batch)
        k = g.integers(0, 2, size=batch)
        x = self.centres[y, k] + g.normal(0, 1.0, size=(batch, self.centres.shape[2]))
        return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)


def _shape_mask(kind, yy, xx, cy, cx, r):
    dy, dx = yy - cy, xx - cx
    if kind == 0:  # disc
        return dy * dy + dx * dx <= r * r
    if kind == 1:  # square
        return (np.abs(dy) <= r * 0.8) & (np.abs(dx) <= r * 0.8)
    if kind == 2:  # triangle
        return (dy <= r * 0.7) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    if kind == 3:  # plus
        return ((np.abs(dy) <= r * 0.25) & (np.abs(dx) <= r)) | (
            (np.abs(dx) <= r * 0.25) & (np.abs(dy) <= r))
    if kind == 4:  # ring
        d = dy * dy + dx * dx
        return (d <= r * r) & (d >= (r * 0.55) ** 2)
    if kind == 5:  # horizontal bar
        return (np.abs(dy) <= r * 0.3) & (np.abs(dx) <= r)
    if kind == 6:  # diamond
        return np.abs(dy) + np.abs(dx) <= r
    if kind == 7:  # x
        return (np.abs(np.abs(dy) - np.abs(dx)) <= r * 0.3) & (np.abs(dy) <= r)
    if kind == 8:  # vertical bar
        return (np.abs(dx) <= r * 0.3) & (np.abs(dy) <= r)
    return (dy * dy + dx * dx <= r * r) & (dy >= 0)  # 9: half disc


class Shapes:
    """Small RGB images of random shapes on a noisy background; the class is the shape."""

    def __init__(self, seed, classes, size=16, palette_shift=0.0):
        self.classes, self.size = classes, size
        g = np.random.default_rng(seed)
        self.palette = np.clip(g.uniform(0.2, 1.0, size=(8, 3)) + palette_shift, 0, 1.5)
        self.bg = 0.1 + palette_shift * 0.5

    def sample(self, batch, g):
        s = self.size
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        y = g.integers(0, self.classes, size=batch)
        imgs = g.normal(self.bg, 0.15, size=(batch, 3, s, s)).astype(np.float32)
        for i in range(batch):
            r = g.uniform(s * 0.22, s * 0.4)
            cy, cx = g.uniform(r, s - r, size=2)
            m = _shape_mask(int(y[i]), yy, xx, cy, cx, r)
            col = self.palette[g.integers(0, 8)]
            imgs[i][:, m] += col[:, None].astype(np.float32)
        return torch.from_numpy(imgs), torch.from_numpy(y)


class Topics:
    """Token sequences: Zipf-distributed background tokens plus class-specific topic tokens."""

    def __init__(self, seed, vocab, classes, length, topic_words=12, shift_from=None):
        g = np.random.default_rng(seed)
        self.vocab, self.classes, self.length = vocab, classes, length
        topics = g.choice(np.arange(1, min(vocab, 4000)), size=(classes, topic_words),
                          replace=False if classes * topic_words < min(vocab, 4000) else True)
        if shift_from is not None:  # task B keeps half of each old topic and redraws the rest
            old = shift_from.topics
            n = min(classes, old.shape[0])
            topics[:n, : topic_words // 2] = old[:n, : topic_words // 2]
        self.topics = topics
        ranks = np.arange(1, vocab + 1, dtype=np.float64)
        p = 1.0 / ranks ** 1.1
        self.cdf = np.cumsum(p / p.sum())

    def sample(self, batch, g):
        y = g.integers(0, self.classes, size=batch)
        x = np.minimum(np.searchsorted(self.cdf, g.random(size=(batch, self.length))),
                       self.vocab - 1)
        hits = g.random(size=(batch, self.length)) < 0.3
        words = self.topics[y][np.arange(batch)[:, None], g.integers(0, self.topics.shape[1],
                                                                     size=(batch, self.length))]
        x = np.where(hits, words, x)
        return torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y)


# ----------------------------------------------------------------------------------------------
# Architectures. Every model ends in `head` (the classifier), so head-only / grown-head scopes
# are uniform; `blocks` lists the trunk stages from first to last.


class MLP(nn.Module):
    def __init__(self, dim, hidden, classes):
        super().__init__()
        layers, d = [], dim
        for h in hidden:
            layers.append(nn.Sequential(nn.Linear(d, h), nn.ReLU()))
            d = h
        self.blocks = nn.ModuleList(layers)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


class SmallCNN(nn.Module):
    def __init__(self, classes, widths=(32, 64, 128, 160)):
        super().__init__()
        blocks, c = [], 3
        for i, w in enumerate(widths):
            layers = [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            blocks.append(nn.Sequential(*layers))
            c = w
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(c, classes)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x.mean(dim=(2, 3)))


def _dw_separable(cin, cout, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
        nn.BatchNorm2d(cin), nn.ReLU6(),
        nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6())


class MobileNetLike(nn.Module):
    """MobileNet-v1 style: a stem, then depthwise-separable blocks with BatchNorm."""

    def __init__(self, classes, plan=((32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2),
                                      (256, 256, 1), (256, 512, 2), (512, 512, 1))):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32),
                                  nn.ReLU6())
        self.blocks = nn.ModuleList([_dw_separable(a, b, s) for a, b, s in plan])
        self.head = nn.Linear(plan[-1][1], classes)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x.mean(dim=(2, 3)))


class EncoderBlock(nn.Module):
    """Pre-norm transformer encoder block written out (exports to plain ONNX MatMul/Softmax)."""

    def __init__(self, d, heads, ff):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)

    def forward(self, x):
        b, t, d = x.shape
        h = self.ln1(x)
        split = lambda z: z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        a = torch.softmax(q @ k.transpose(2, 3) / (d // self.heads) ** 0.5, dim=-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, t, d))
        return x + self.ff2(F.gelu(self.ff1(self.ln2(x))))


class TinyTransformer(nn.Module):
    def __init__(self, vocab, length, d, layers, heads, ff, classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(1, length, d) * 0.02)
        self.blocks = nn.ModuleList([EncoderBlock(d, heads, ff) for _ in range(layers)])
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        h = self.embed(x) + self.pos
        for b in self.blocks:
            h = b(h)
        return self.head(self.norm(h).mean(dim=1))


class Recurrent(nn.Module):
    def __init__(self, cell, vocab, emb, hidden, layers, classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb)
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        # One module per layer so "last blocks" can train the top layer alone.
        self.blocks = nn.ModuleList(
            [rnn(emb if i == 0 else hidden, hidden, batch_first=True) for i in range(layers)])
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        h = self.embed(x)
        for b in self.blocks:
            h, _ = b(h)
        return self.head(h[:, -1])


class BagOfWords(nn.Module):
    """fastText-style classifier: a large EmbeddingBag (most of the bytes) and a small MLP."""

    def __init__(self, vocab, d, hidden, classes):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab, d, mode="mean")
        self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(d, hidden), nn.ReLU())])
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        h = self.embed(x)
        for b in self.blocks:
            h = b(h)
        return self.head(h)


# ----------------------------------------------------------------------------------------------
# Families: an architecture, its task A (pretraining), task B (fine-tune) and the grown task.

CLASSES_A = 8
CLASSES_GROWN = 12


def family(name):
    if name == "mlp":
        a = Clusters(11, 192, CLASSES_A)
        return dict(make=lambda c: MLP(192, (1024, 512), c), example=torch.zeros(1, 192),
                    task_a=a, task_b=Clusters(12, 192, CLASSES_A, shift_from=a),
                    task_grown=Clusters(13, 192, CLASSES_GROWN, shift_from=a), batch=32,
                    pre_steps=200, lr=1e-3)
    if name == "cnn":
        return dict(make=lambda c: SmallCNN(c), example=torch.zeros(1, 3, 16, 16),
                    task_a=Shapes(21, CLASSES_A), task_b=Shapes(22, CLASSES_A, palette_shift=0.3),
                    task_grown=Shapes(23, CLASSES_GROWN - 2), grown_classes=CLASSES_GROWN - 2,
                    batch=16, pre_steps=200, lr=2e-3)
    if name == "mobilenet":
        return dict(make=lambda c: MobileNetLike(c), example=torch.zeros(1, 3, 16, 16),
                    task_a=Shapes(31, CLASSES_A), task_b=Shapes(32, CLASSES_A, palette_shift=0.3),
                    batch=16, pre_steps=100, lr=2e-3)
    if name == "transformer":
        a = Topics(41, 4096, CLASSES_A, 16)
        return dict(make=lambda c: TinyTransformer(4096, 16, 128, 2, 4, 256, c),
                    example=torch.zeros(1, 16, dtype=torch.int64), task_a=a,
                    task_b=Topics(42, 4096, CLASSES_A, 16, shift_from=a),
                    task_grown=Topics(43, 4096, CLASSES_GROWN, 16, shift_from=a), batch=8,
                    pre_steps=120, lr=1e-3)
    if name in ("gru", "lstm"):
        a = Topics(51, 512, CLASSES_A, 12)
        return dict(make=lambda c: Recurrent(name, 512, 64, 160, 2, c),
                    example=torch.zeros(1, 12, dtype=torch.int64), task_a=a,
                    task_b=Topics(52, 512, CLASSES_A, 12, shift_from=a), batch=16,
                    pre_steps=80, lr=3e-3)
    if name == "bow-large":
        a = Topics(61, 30000, CLASSES_A, 32, topic_words=40)
        return dict(make=lambda c: BagOfWords(30000, 192, 256, c),
                    example=torch.zeros(1, 32, dtype=torch.int64), task_a=a,
                    task_b=Topics(62, 30000, CLASSES_A, 32, topic_words=40, shift_from=a),
                    batch=32, pre_steps=50, lr=5e-3)
    if name == "transformer-large":
        a = Topics(71, 24000, CLASSES_A, 16, topic_words=30)
        return dict(make=lambda c: TinyTransformer(24000, 16, 192, 2, 4, 384, c),
                    example=torch.zeros(1, 16, dtype=torch.int64), task_a=a,
                    task_b=Topics(72, 24000, CLASSES_A, 16, topic_words=30, shift_from=a),
                    batch=8, pre_steps=40, lr=2e-3)
    raise ValueError(name)


# ----------------------------------------------------------------------------------------------
# Training.


def make_optimizer(kind, params, lr):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr * 20, momentum=0.9)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    raise ValueError(kind)


def train(model, task, steps, opt_kind, lr, batch, seed, trainable=None, train_modules=None,
          masks=None):
    """A plain supervised loop. `trainable`: parameters to update (default all); modules in
    `train_modules` run in train mode (BatchNorm statistics move), the rest in eval mode, so a
    frozen trunk keeps its statistics as a real partial fine-tune does. `masks`: parameter ->
    0/1 tensor kept applied after each step (magnitude pruning)."""
    torch.manual_seed(seed)
    g = np.random.default_rng(seed)
    params = list(model.parameters()) if trainable is None else trainable
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    if train_modules is None:
        model.train()
    else:
        model.eval()
        for m in train_modules:
            m.train()
    opt = make_optimizer(opt_kind, params, lr) if params else None
    loss = None
    for _ in range(steps):
        x, y = task.sample(batch, g)
        if opt is None:  # statistics-only adaptation: forward passes in train mode
            with torch.no_grad():
                model(x)
            continue
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if masks:
            with torch.no_grad():
                for p, m in masks.items():
                    p.mul_(m)
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    return float(loss) if loss is not None else None


def accuracy(model, task, seed=999, n=256):
    g = np.random.default_rng(seed)
    x, y = task.sample(n, g)
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def block_modules(model, last):
    return list(model.blocks[-last:]) + [model.head] + (
        [model.norm] if hasattr(model, "norm") else [])


def params_of(modules):
    return [p for m in modules for p in m.parameters()]


def bn_modules(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


class LoRALinear(nn.Module):
    """A frozen Linear plus a trainable rank-r update B @ A (B starts at zero)."""

    def __init__(self, base, r, alpha, seed):
        super().__init__()
        self.base = base
        gen = torch.Generator().manual_seed(seed)
        self.a = nn.Parameter(torch.randn(r, base.in_features, generator=gen) / r)
        self.b = nn.Parameter(torch.zeros(base.out_features, r))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.a.t() @ self.b.t()) * self.scale

    def merged(self):
        with torch.no_grad():
            self.base.weight += (self.b @ self.a) * self.scale
        return self.base


def lora_merge_train(model, task, steps, opt_kind, lr, batch, seed, r=8):
    """Wraps every Linear of the trunk in LoRA, trains only A/B (and the head), merges."""
    wrapped = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and child is not model.head:
                lora = LoRALinear(child, r, 2 * r, seed + len(wrapped))
                setattr(parent, name, lora)
                wrapped.append((parent, name, lora))
    trainable = [p for _, _, l in wrapped for p in (l.a, l.b)] + list(model.head.parameters())
    loss = train(model, task, steps, opt_kind, lr, batch, seed, trainable=trainable,
                 train_modules=[])
    for parent, name, lora in wrapped:
        setattr(parent, name, lora.merged())
    return loss


def grow_head(model, classes, seed):
    """Replaces the classifier by one with more outputs; old rows are kept, new rows random."""
    old = model.head
    new = nn.Linear(old.in_features, classes)
    torch.manual_seed(seed)
    with torch.no_grad():
        new.weight[: old.out_features] = old.weight
        new.bias[: old.out_features] = old.bias
    model.head = new


def prune_masks(model, fraction):
    """Global magnitude pruning of every weight matrix / conv kernel (not norms, biases,
    embeddings): the smallest `fraction` of each tensor becomes exactly zero."""
    masks = {}
    for name, p in model.named_parameters():
        if p.dim() < 2 or "embed" in name:
            continue
        k = int(p.numel() * fraction)
        thresh = p.detach().abs().flatten().kthvalue(k).values
        masks[p] = (p.detach().abs() > thresh).to(p.dtype)
        with torch.no_grad():
            p.mul_(masks[p])
    return masks


# ----------------------------------------------------------------------------------------------
# Writers.

ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.int8: "I8", torch.int64: "I64", torch.uint8: "U8", torch.int32: "I32"}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def safetensors_bytes(tensors, metadata):
    """SafeTensors as the reference writer lays it out: an 8-byte little-endian header length,
    a JSON header with sorted keys padded with spaces to a multiple of 8, then the data, largest
    alignment first and by name (as huggingface/safetensors orders it)."""
    names = sorted(tensors, key=lambda n: (-tensors[n].element_size(), n))
    header, blobs, off = {}, [], 0
    for n in names:
        b = tensor_bytes(tensors[n])
        header[n] = {"dtype": ST_DTYPES[tensors[n].dtype], "shape": list(tensors[n].shape),
                     "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    js = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    return len(js).to_bytes(8, "little") + js + b"".join(blobs)


def state_tensors(model, dtype):
    """The state dict as a mixed-precision checkpoint stores it: floating tensors in `dtype`,
    integer ones (BatchNorm's num_batches_tracked) unchanged."""
    out = {}
    for k, v in model.state_dict().items():
        out[k] = v.to(dtype) if v.is_floating_point() else v
    return out


def quantize_per_channel(w):
    """Symmetric per-output-channel int8: (q, scale, zero_point) with q = round(w / scale)."""
    flat = w.detach().reshape(w.shape[0], -1)
    scale = (flat.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
    q = torch.round(flat / scale[:, None]).clamp(-127, 127).to(torch.int8).reshape(w.shape)
    return q, scale.float(), torch.zeros(w.shape[0], dtype=torch.int8)


def int8_tensors(model):
    """A re-quantised release: every weight matrix / kernel as int8 plus per-channel scales and
    zero points; biases, norms and embeddings stay fp32."""
    out = {}
    for k, v in model.state_dict().items():
        if v.is_floating_point() and v.dim() >= 2 and "embed" not in k and k != "pos":
            q, s, z = quantize_per_channel(v)
            out[k] = q
            out[k + "_scale"] = s
            out[k + "_zero_point"] = z
        else:
            out[k] = v
    return out


def onnx_bytes(model, example, opset):
    model.eval()
    buf = io.BytesIO()
    torch.onnx.export(model, (example,), buf, opset_version=opset, do_constant_folding=True,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return buf.getvalue()


def onnx_to_fp16(data):
    """fp32 export converted to fp16 storage: initializers, Constant tensors and graph I/O
    (torch 1.13 on CPU cannot trace a half model)."""
    m = onnx.load_from_string(data)
    g = m.graph
    for i, t in enumerate(g.initializer):
        if t.data_type == onnx.TensorProto.FLOAT:
            a = numpy_helper.to_array(t).astype(np.float16)
            g.initializer[i].CopyFrom(numpy_helper.from_array(a, t.name))
    for n in g.node:
        for at in n.attribute:
            if at.type == onnx.AttributeProto.TENSOR and at.t.data_type == onnx.TensorProto.FLOAT:
                a = numpy_helper.to_array(at.t).astype(np.float16)
                at.t.CopyFrom(numpy_helper.from_array(a, at.t.name))
    for v in list(g.input) + list(g.output):
        if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
            v.type.tensor_type.elem_type = onnx.TensorProto.FLOAT16
    del g.value_info[:]
    return m.SerializeToString()


def onnx_to_qdq(data):
    """fp32 export turned into a QDQ model: every Conv/Gemm weight initializer becomes int8
    with per-channel scale and zero point initializers, dequantised by a DequantizeLinear node
    (axis 0, opset >= 13) feeding the original name."""
    m = onnx.load_from_string(data)
    g = m.graph
    weights = {n.input[1] for n in g.node if n.op_type in ("Conv", "Gemm") and len(n.input) > 1}
    new_inits, dq_nodes = [], []
    for t in g.initializer:
        a = numpy_helper.to_array(t)
        if t.name not in weights or a.ndim < 2 or t.data_type != onnx.TensorProto.FLOAT:
            new_inits.append(t)
            continue
        q, s, z = quantize_per_channel(torch.from_numpy(a.copy()))
        new_inits += [numpy_helper.from_array(q.numpy(), t.name + "_quantized"),
                      numpy_helper.from_array(s.numpy(), t.name + "_scale"),
                      numpy_helper.from_array(z.numpy(), t.name + "_zero_point")]
        dq_nodes.append(helper.make_node(
            "DequantizeLinear", [t.name + "_quantized", t.name + "_scale", t.name + "_zero_point"],
            [t.name], name=t.name + "_DequantizeLinear", axis=0))
    del g.initializer[:]
    g.initializer.extend(new_inits)
    nodes = dq_nodes + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return m.SerializeToString()


# ----------------------------------------------------------------------------------------------
# The corpus plan. A base per family is pretrained once; each fine-tune run is shared by the
# pairs that store it in different formats / dtypes (as one training run is released as fp32,
# fp16, bf16 or int8). Group = what changed (the scope) for fp32 pairs, the storage dtype for
# fp16 / bf16 / int8 pairs.

# run id -> (family, scope, optimizer, steps, extra)
RUNS = {
    "mlp-head-sgd": ("mlp", "head-only", "sgd", 120, {}),
    "mlp-all-adam": ("mlp", "all-layers", "adam", 150, {}),
    "mlp-all-sgd": ("mlp", "all-layers", "sgd", 150, {}),
    "mlp-lora-adamw": ("mlp", "lora-merged", "adamw", 150, {}),
    "mlp-grown-adam": ("mlp", "grown-head", "adam", 120, {}),
    "mlp-pruned-sgd": ("mlp", "pruned", "sgd", 100, {"fraction": 0.5}),
    "cnn-head-adam": ("cnn", "head-only", "adam", 100, {}),
    "cnn-last-sgd": ("cnn", "last-blocks", "sgd", 100, {"last": 2}),
    "cnn-all-adam": ("cnn", "all-layers", "adam", 100, {}),
    "cnn-bn-adam": ("cnn", "bn-only", "adam", 100, {}),
    "cnn-grown-sgd": ("cnn", "grown-head", "sgd", 100, {"last": 1}),
    "cnn-pruned-adam": ("cnn", "pruned", "adam", 80, {"fraction": 0.3}),
    "mobilenet-last-adam": ("mobilenet", "last-blocks", "adam", 60, {"last": 2}),
    "mobilenet-all-adamw": ("mobilenet", "all-layers", "adamw", 60, {}),
    "mobilenet-bnstats": ("mobilenet", "bn-only", "none", 40, {"stats_only": True}),
    "mobilenet-bn-sgd": ("mobilenet", "bn-only", "sgd", 60, {}),
    "transformer-head-adamw": ("transformer", "head-only", "adamw", 60, {}),
    "transformer-last-adamw": ("transformer", "last-blocks", "adamw", 60, {"last": 1}),
    "transformer-all-adamw": ("transformer", "all-layers", "adamw", 70, {}),
    "transformer-lora-adam": ("transformer", "lora-merged", "adam", 70, {}),
    "transformer-grown-adamw": ("transformer", "grown-head", "adamw", 60, {"last": 1}),
    "gru-all-adam": ("gru", "all-layers", "adam", 50, {}),
    "gru-pruned-adam": ("gru", "pruned", "adam", 40, {"fraction": 0.4}),
    "lstm-last-adam": ("lstm", "last-blocks", "adam", 50, {"last": 1}),
    "lstm-all-sgd": ("lstm", "all-layers", "sgd", 50, {}),
    "bow-large-head-sgd": ("bow-large", "head-only", "sgd", 60, {}),
    "bow-large-all-adam": ("bow-large", "all-layers", "adam", 40, {}),
    "transformer-large-all-adamw": ("transformer-large", "all-layers", "adamw", 30, {}),
}

# (run, format, dtype, group, extra). format: safetensors / onnx; dtype: fp32 fp16 bf16 int8.
PAIRS = [
    ("mlp-head-sgd", "onnx", "fp32", "head-only", {}),
    ("cnn-head-adam", "safetensors", "fp32", "head-only", {}),
    ("transformer-head-adamw", "onnx", "fp32", "head-only", {}),
    ("bow-large-head-sgd", "safetensors", "fp32", "head-only", {}),
    ("cnn-last-sgd", "onnx", "fp32", "last-blocks", {}),
    ("mobilenet-last-adam", "safetensors", "fp32", "last-blocks", {}),
    ("transformer-last-adamw", "safetensors", "fp32", "last-blocks", {}),
    ("lstm-last-adam", "onnx", "fp32", "last-blocks", {}),
    ("mlp-all-adam", "safetensors", "fp32", "all-layers", {}),
    ("mlp-all-sgd", "onnx", "fp32", "all-layers", {}),
    ("mobilenet-all-adamw", "onnx", "fp32", "all-layers", {}),
    ("gru-all-adam", "safetensors", "fp32", "all-layers", {}),
    ("lstm-all-sgd", "safetensors", "fp32", "all-layers", {}),
    ("bow-large-all-adam", "safetensors", "fp32", "all-layers", {}),
    ("transformer-large-all-adamw", "onnx", "fp32", "all-layers", {}),
    ("cnn-bn-adam", "safetensors", "fp32", "bn-only", {}),
    ("mobilenet-bnstats", "safetensors", "fp32", "bn-only", {}),
    ("mobilenet-bn-sgd", "onnx", "fp32", "bn-only", {}),
    ("mlp-lora-adamw", "safetensors", "fp32", "lora-merged", {}),
    ("transformer-lora-adam", "onnx", "fp32", "lora-merged", {}),
    ("mlp-grown-adam", "onnx", "fp32", "grown-head", {}),
    ("cnn-grown-sgd", "safetensors", "fp32", "grown-head", {}),
    ("transformer-grown-adamw", "safetensors", "fp32", "grown-head", {}),
    ("mlp-pruned-sgd", "safetensors", "fp32", "pruned", {}),
    ("cnn-pruned-adam", "onnx", "fp32", "pruned", {}),
    ("gru-pruned-adam", "safetensors", "fp32", "pruned", {}),
    # Same weights, another opset (framing-only change), and a fine-tune that also moves opset.
    ("mlp-all-adam", "onnx", "fp32", "opset-change", {"opsets": (13, 17), "same_weights": True}),
    ("lstm-all-sgd", "onnx", "fp32", "opset-change", {"opsets": (13, 16), "same_weights": True}),
    ("cnn-all-adam", "onnx", "fp32", "opset-change", {"opsets": (11, 13)}),
    ("mlp-all-adam", "safetensors", "fp16", "fp16", {}),
    ("cnn-all-adam", "onnx", "fp16", "fp16", {}),
    ("gru-all-adam", "safetensors", "fp16", "fp16", {}),
    ("mlp-all-adam", "safetensors", "bf16", "bf16", {}),
    ("transformer-all-adamw", "safetensors", "bf16", "bf16", {}),
    ("transformer-large-all-adamw", "safetensors", "bf16", "bf16", {}),
    ("mlp-all-sgd", "safetensors", "int8", "int8", {}),
    ("cnn-all-adam", "onnx", "int8", "int8", {}),
    ("transformer-all-adamw", "safetensors", "int8", "int8", {}),
]


def fine_tune(run_id, base_state, fam, seed):
    fam_name, scope, opt, steps, extra = RUNS[run_id]
    classes = CLASSES_A
    model = fam["make"](classes)
    model.load_state_dict(base_state)
    task, lr, batch = fam["task_b"], fam["lr"] * 0.5, fam["batch"]
    if scope == "head-only":
        loss = train(model, task, steps, opt, lr, batch, seed, trainable=params_of([model.head]),
                     train_modules=[])
    elif scope == "last-blocks":
        mods = block_modules(model, extra["last"])
        loss = train(model, task, steps, opt, lr, batch, seed, trainable=params_of(mods),
                     train_modules=mods)
    elif scope == "all-layers":
        loss = train(model, task, steps, opt, lr, batch, seed)
    elif scope == "bn-only":
        bns = bn_modules(model)
        trainable = [] if extra.get("stats_only") else params_of(bns)
        loss = train(model, task, steps, opt, lr, batch, seed, trainable=trainable,
                     train_modules=bns)
    elif scope == "lora-merged":
        loss = lora_merge_train(model, task, steps, opt, lr * 4, batch, seed)
    elif scope == "grown-head":
        classes = fam.get("grown_classes", CLASSES_GROWN)
        grow_head(model, classes, seed)
        task = fam["task_grown"]
        mods = block_modules(model, extra.get("last", 1))
        loss = train(model, task, steps, opt, lr, batch, seed, trainable=params_of(mods),
                     train_modules=mods)
    elif scope == "pruned":
        masks = prune_masks(model, extra["fraction"])
        loss = train(model, fam["task_a"], steps, opt, lr, batch, seed, masks=masks)
        task = fam["task_a"]
    else:
        raise ValueError(scope)
    return model, dict(loss=loss, acc=accuracy(model, task), classes=classes)


def export(model, fam, fmt, dtype, opset, meta):
    if fmt == "safetensors":
        if dtype == "int8":
            tensors = int8_tensors(model)
        else:
            tensors = state_tensors(model, {"fp32": torch.float32, "fp16": torch.float16,
                                            "bf16": torch.bfloat16}[dtype])
        return safetensors_bytes(tensors, meta), "safetensors"
    data = onnx_bytes(model, fam["example"], opset)
    if dtype == "fp16":
        data = onnx_to_fp16(data)
    elif dtype == "int8":
        data = onnx_to_qdq(data)
    return data, "onnx"


def generate(out_dir, only=None, log=print):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    started = time.time()
    needed_runs = sorted({p[0] for p in PAIRS if only is None or p[0] in only})
    fams, bases, base_info, models, run_info = {}, {}, {}, {}, {}
    for run_id in needed_runs:
        fam_name = RUNS[run_id][0]
        if fam_name not in fams:
            fams[fam_name] = family(fam_name)
            fam = fams[fam_name]
            torch.manual_seed(1000 + len(fams))
            model = fam["make"](CLASSES_A)
            t0 = time.time()
            loss = train(model, fam["task_a"], fam["pre_steps"], "adam", fam["lr"], fam["batch"],
                         seed=100 + len(fams))
            bases[fam_name] = model
            base_info[fam_name] = dict(loss=loss, acc=accuracy(model, fam["task_a"]),
                                       seconds=round(time.time() - t0, 2),
                                       params=sum(p.numel() for p in model.parameters()))
            log(f"base {fam_name}: {base_info[fam_name]}")
        fam = fams[fam_name]
        t0 = time.time()
        model, info = fine_tune(run_id, bases[fam_name].state_dict(), fam,
                                seed=hash_seed(run_id))
        info["seconds"] = round(time.time() - t0, 2)
        models[run_id], run_info[run_id] = model, info
        log(f"run {run_id}: {info}")
    names = []
    for run_id, fmt, dtype, group, extra in PAIRS:
        if run_id not in models:
            continue
        fam_name, scope, opt, steps, _ = RUNS[run_id]
        fam = fams[fam_name]
        opsets = extra.get("opsets", (13, 13))
        target_model = bases[fam_name] if extra.get("same_weights") else models[run_id]
        label = "opset" + "to".join(map(str, opsets)) if group == "opset-change" else scope
        name = f"{fam_name}-{label}-{opt}-{dtype}-{'st' if fmt == 'safetensors' else 'onnx'}"
        if extra.get("same_weights"):
            name = f"{fam_name}-{label}-same-weights-{dtype}-onnx"
        meta = {"format": "pt", "generator": "oxide bench/corpus/generate.py"}
        pair_dir = os.path.join(out_dir, name)
        os.makedirs(pair_dir)
        files = {}
        for role, model, opset in (("base", bases[fam_name], opsets[0]),
                                   ("target", target_model, opsets[1])):
            data, ext = export(model, fam, fmt, dtype, opset, meta)
            path = os.path.join(pair_dir, f"{role}.{ext}")
            with open(path, "wb") as f:
                f.write(data)
            files[f"{role}.{ext}"] = {"bytes": len(data),
                                      "sha256": hashlib.sha256(data).hexdigest()}
        scenario = f"{scope}-{opt}" if not extra.get("same_weights") else "same-weights"
        if group == "opset-change":
            scenario = f"opset-{opsets[0]}-to-{opsets[1]}" + (
                "" if extra.get("same_weights") else f"-{scope}-{opt}")
        pair = {
            "name": name, "group": group, "scenario": scenario, "format": fmt, "dtype": dtype,
            "arch": fam_name, "scope": scope, "optimizer": opt,
            "steps": 0 if extra.get("same_weights") else steps,
            "opset": list(opsets) if fmt == "onnx" else None,
            "params": base_info[fam_name]["params"],
            "base": {"task": "A", "pretrain_steps": fams[fam_name]["pre_steps"],
                     "acc": base_info[fam_name]["acc"]},
            "target": {"acc": None if extra.get("same_weights") else run_info[run_id]["acc"],
                       "classes": CLASSES_A if extra.get("same_weights")
                       else run_info[run_id]["classes"]},
            "files": files,
            "synthetic_data": True,
        }
        with open(os.path.join(pair_dir, "pair.json"), "w") as f:
            json.dump(pair, f, indent=1, sort_keys=True)
        names.append(name)
        log(f"pair {name}: " + ", ".join(f"{k} {v['bytes']} B" for k, v in files.items()))
    elapsed = round(time.time() - started, 1)
    with open(os.path.join(out_dir, "INDEX.json"), "w") as f:
        json.dump({"pairs": names, "seconds": elapsed, "bases": base_info, "runs": run_info,
                   "torch": torch.__version__, "onnx": onnx.__version__}, f, indent=1,
                  sort_keys=True)
    return names, elapsed


def hash_seed(text):
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def script_hash():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache-root", default=os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "oxide"),
        help="where corpus-<hash>/ lives (default ${XDG_CACHE_HOME:-~/.cache}/oxide)")
    ap.add_argument("--only", nargs="*", help="generate only these run ids (for a quick look; "
                    "written to a directory named after them, never the cache)")
    ap.add_argument("--list", action="store_true", help="print the pair plan and exit")
    args = ap.parse_args()
    if args.list:
        for p in PAIRS:
            print(*p[:4])
        print(f"{len(PAIRS)} pairs, {len(RUNS)} fine-tune runs")
        return 0
    os.makedirs(args.cache_root, exist_ok=True)
    key = "corpus-" + script_hash()
    if args.only:
        key += "-only-" + hashlib.sha256(" ".join(sorted(args.only)).encode()).hexdigest()[:8]
    final = os.path.join(args.cache_root, key)
    if os.path.isfile(os.path.join(final, "INDEX.json")):
        print(f"corpus: cached ({final})", file=sys.stderr)
        print(final)
        return 0
    # SIGTERM / SIGHUP become SystemExit, so the temporary directory is removed on the way out.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    tmp = tempfile.mkdtemp(prefix=f".{key}.tmp-", dir=args.cache_root)
    try:
        names, elapsed = generate(tmp, set(args.only) if args.only else None,
                                  log=lambda s: print(s, file=sys.stderr, flush=True))
        try:
            os.rename(tmp, final)
        except OSError:  # another run finished first: its corpus is the same bytes
            if not os.path.isfile(os.path.join(final, "INDEX.json")):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"corpus: {len(names)} pairs generated in {elapsed} s", file=sys.stderr)
    print(final)
    return 0


if __name__ == "__main__":
    sys.exit(main())
