#!/usr/bin/python3
"""The other direction of `convnet export`: PyTorch loads the files our writers produce.

test/fixtures/export/small.pth and small.safetensors hold the state dict of the trainer's `small` model (3x8x8
input, 4 classes) with weights from the AlexNet fixture's integer hash, written by savePth / saveSafetensors (what
`convnet export --to x.pth|x.safetensors` calls; apps/trainer/test/export-pytorch.test.ts rewrites both byte for
byte). This script defines the same net in PyTorch, loads each file with load_state_dict(strict=True) (the
safetensors file through a few lines of header parsing: the `safetensors` package is not in Debian), runs a
hash-filled batch of 2 and writes the logits to expected.json for the test to compare with ours.
Run: /usr/bin/python3 test/pytorch/make_export_fixture.py
"""
import collections
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn

from make_alexnet_fixture import fill

torch.set_num_threads(1)
DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "export")


def small_net(channels=3, size=8, classes=4):
    # packages/alexnet smallSpec: conv32 5x5 pad 2, ReLU, max-pool 3/2 with the ceil rule, conv64, ReLU, pool,
    # flatten (C, H, W order), fc256, ReLU, dropout, fc
    after = size
    for _ in range(2):
        after = -(-(after - 3) // 2) + 1
    return nn.Sequential(
        collections.OrderedDict(
            [
                ("features", nn.Sequential(
                    nn.Conv2d(channels, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True),
                    nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True))),
                ("flatten", nn.Flatten()),
                ("classifier", nn.Sequential(nn.Linear(64 * after * after, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, classes))),
            ]
        )
    )


def read_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8 : 8 + n])
    out = collections.OrderedDict()
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", v
        start, end = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(b[8 + n + start : 8 + n + end], dtype="<f4").copy().reshape(v["shape"]))
    return out


def run(sd):
    net = small_net()
    result = net.load_state_dict(sd, strict=True)
    net.eval()
    x = fill((2, 3, 8, 8), 1000, 1.0)
    with torch.no_grad():
        y = net(x)
    return {"strict_load": str(result), "keys": list(sd.keys()), "shape": list(y.shape), "logits": y.reshape(-1).tolist()}


def main():
    expected = {
        "torch": torch.__version__,
        "pth": run(torch.load(os.path.join(DIR, "small.pth"))),
        "safetensors": run(read_safetensors(os.path.join(DIR, "small.safetensors"))),
    }
    with open(os.path.join(DIR, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
