#!/usr/bin/python3
"""PyTorch side of `pnpm bench`: times the same AlexNet workloads as convnet's benchmark and prints JSON.

Run with Debian's python3-torch (+ libopenblas0-openmp): /usr/bin/python3 test/pytorch/bench_torch.py
Options: --threads N (default 2), --steps N, --onnx PATH (also export torchvision AlexNet to ONNX),
--only name,name (workload names as printed).
"""
import argparse
import json
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torchvision


def paper_alexnet(num_classes=1000):
    """The 2012 paper's net: LRN, overlapping pooling, groups=2 in conv2/4/5 (the two towers)."""
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    features = nn.Sequential(
        nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
    )
    classifier = nn.Sequential(
        nn.Linear(9216, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, num_classes),
    )
    return nn.Sequential(features, nn.Flatten(), classifier)


def time_it(fn, steps, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--onnx", default=None)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    only = set(args.only.split(",")) if args.only else None
    results = []

    models = {"torchvision": (torchvision.models.alexnet(weights=None), 224), "paper": (paper_alexnet(), 227)}
    for name, (model, size) in models.items():
        for batch in (128, 32):
            key = f"train/{name}/{batch}"
            if only and key not in only:
                continue
            model.train()
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
            x = torch.randn(batch, 3, size, size)
            y = torch.randint(0, 1000, (batch,))
            loss_fn = nn.CrossEntropyLoss()

            def step():
                opt.zero_grad(set_to_none=False)
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()

            med, best = time_it(step, args.steps)
            results.append({"workload": key, "images_per_sec": batch / med, "best_images_per_sec": batch / best})
        for batch in (1, 32, 128):
            key = f"infer/{name}/{batch}"
            if only and key not in only:
                continue
            model.eval()
            x = torch.randn(batch, 3, size, size)
            with torch.no_grad():
                med, best = time_it(lambda: model(x), args.steps if batch > 1 else args.steps * 4)
            results.append({"workload": key, "images_per_sec": batch / med, "best_images_per_sec": batch / best})

    if args.onnx:
        m = models["torchvision"][0].eval()
        torch.onnx.export(m, torch.randn(1, 3, 224, 224), args.onnx, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump({"torch": torch.__version__, "threads": args.threads, "blas": torch.__config__.show().count("BLAS"),
               "peak_rss_mb": peak_rss_mb, "results": results}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
