#!/usr/bin/python3
"""Whole-network ground truth: one forward and backward of the paper AlexNet and torchvision's AlexNet.

Weights and inputs come from an integer hash that the TypeScript test evaluates bit for bit (32-bit
unsigned arithmetic, then one float64 multiply rounded to float32), so the fixture needs no 244 MB weight
file. A hash, not a smooth formula: periodic values make near-ties in max-pooling windows, which float
rounding then breaks differently on each side.
    h = (j + 1) * 2654435761 + (k + 1) * 2246822519  (mod 2^32);  h ^= h >> 15;  h = h * 2246822519 (mod 2^32);
    h ^= h >> 13;  fill(name_index k, element j) = scale * (h / 2^32 * 2 - 1)
It stores the logits, the mean cross-entropy loss and, for every parameter gradient, its sum, sum of squares
and 16 sampled elements. Run: /usr/bin/python3 test/pytorch/make_alexnet_fixture.py
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torchvision

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "alexnet.json")


def fill(shape, k, scale):
    n = int(np.prod(shape))
    m = np.uint64(0xFFFFFFFF)
    h = ((np.arange(n, dtype=np.uint64) + np.uint64(1)) * np.uint64(2654435761) + np.uint64(k + 1) * np.uint64(2246822519)) & m
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(2246822519)) & m
    h ^= h >> np.uint64(13)
    v = scale * (h.astype(np.float64) / 4294967296.0 * 2.0 - 1.0)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def paper_net():
    # The paper's LRN applies alpha to the sum as printed: PyTorch divides alpha by size, so pass alpha * size.
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4 * 5, beta=0.75, k=2.0)
    features = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2),
    )
    classifier = nn.Sequential(
        nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 1000),
    )
    m = nn.Module()
    m.features, m.classifier = features, classifier
    m.forward = lambda x: classifier(torch.flatten(features(x), 1))
    return m


def case(name, model, size, labels):
    model.eval()  # dropout off: the comparison is deterministic
    names = [n for n, _ in model.named_parameters()]
    with torch.no_grad():
        for k, (n, p) in enumerate(model.named_parameters()):
            scale = 0.02 if n.endswith("weight") else 0.1
            p.copy_(fill(p.shape, k, scale))
    x = fill((len(labels), 3, size, size), 1000, 1.0)
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, torch.tensor(labels))
    loss.backward()
    grads = {}
    for n, p in model.named_parameters():
        g = p.grad.detach().reshape(-1).double()
        idx = [int(i) for i in np.linspace(0, g.numel() - 1, 16)]
        grads[n] = {"shape": list(p.shape), "sum": float(g.sum()), "sumSquares": float((g * g).sum()),
                    "samples": [[i, float(g[i])] for i in idx]}
    return {"name": name, "size": size, "labels": labels, "paramOrder": names, "logits": [float(v) for v in logits.detach().reshape(-1)],
            "loss": float(loss), "grads": grads}


def main():
    torch.manual_seed(0)
    cases = [case("paper", paper_net(), 227, [3, 999]), case("torchvision", torchvision.models.alexnet(weights=None), 224, [0, 517])]
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "formula": "integer hash (see script); weights 0.02, biases 0.1, input k=1000 scale 1",
                   "cases": cases}, f)
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
