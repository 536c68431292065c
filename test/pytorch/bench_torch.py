#!/usr/bin/python3
"""PyTorch side of `pnpm bench`: times the same AlexNet workloads as convnet's benchmark and prints JSON.

Run with Debian's python3-torch (+ libopenblas0-openmp): /usr/bin/python3 test/pytorch/bench_torch.py
`pnpm bench` sets OPENBLAS_CORETYPE for this process from the CPU's features (SkylakeX with AVX-512, Zen / Haswell
with AVX2); the JSON names the BLAS library torch calls and the core type OpenBLAS runs (asked from the library).
Options: --threads N (default 2), --steps N, --warmup N (default 2), --only name,name (workload names as
printed; "none" runs none), --onnx PATH (export torchvision AlexNet to ONNX there, opset 13, dynamic batch,
unless the file exists already; `pnpm bench` keeps it in test/.cache/, which git ignores).
The JSON's peak_rss_mb is this process's max RSS (torch loaded + the workloads run).
"""
import argparse
import ctypes
import json
import os
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


def blas_info():
    """The BLAS library torch calls and, when it is OpenBLAS, the core type its kernels run (asked from the
    library itself, so an OPENBLAS_CORETYPE that it ignored shows)."""
    config = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for part in config.replace(",", " ").split() if part.startswith("BLAS_INFO=")), "?")
    info = {"blas": blas, "blas_core": None, "blas_config": None}
    if blas == "generic":  # Debian's torch calls whatever libblas.so.3 the alternatives system points at
        path = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
        info["blas"] = path
        try:
            lib = ctypes.CDLL(path)  # the library torch already loaded: the same handle
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            info["blas_core"] = lib.openblas_get_corename().decode()
            info["blas_config"] = lib.openblas_get_config().decode()
        except (OSError, AttributeError):  # not OpenBLAS (the reference BLAS has no such functions)
            pass
    return info


def time_it(fn, steps, warmup):
    """Median and best wall seconds of `steps` calls after `warmup` untimed ones, and the median CPU seconds
    (all threads of this process: time other processes took from us does not count)."""
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(steps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(times), min(times), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--onnx", default=None)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    only = set(args.only.split(",")) if args.only else None
    results = []

    # Built only when a workload needs it, so a run of one workload holds one model (its peak RSS is fair).
    builders = {"torchvision": (lambda: torchvision.models.alexnet(weights=None), 224), "paper": (paper_alexnet, 227)}
    for name, (build, size) in builders.items():
        wanted = [f"{k}/{name}/{b}" for k in ("train", "infer") for b in (128, 32, 1)]
        if only is not None and not any(w in only for w in wanted):
            continue
        model = build()
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

            med, best, cpu = time_it(step, args.steps, args.warmup)
            results.append({"workload": key, "images_per_sec": batch / med, "best_images_per_sec": batch / best,
                            "cpu_images_per_sec": batch * args.threads / cpu})
        for batch in (1, 32, 128):
            key = f"infer/{name}/{batch}"
            if only and key not in only:
                continue
            model.eval()
            x = torch.randn(batch, 3, size, size)
            with torch.no_grad():
                med, best, cpu = time_it(lambda: model(x), args.steps if batch > 1 else args.steps * 4, args.warmup)
            results.append({"workload": key, "images_per_sec": batch / med, "best_images_per_sec": batch / best,
                            "cpu_images_per_sec": batch * args.threads / cpu})

    if args.onnx and not os.path.exists(args.onnx):
        m = torchvision.models.alexnet(weights=None).eval()
        os.makedirs(os.path.dirname(os.path.abspath(args.onnx)), exist_ok=True)
        tmp = f"{args.onnx}.{os.getpid()}.tmp"  # written under a temporary name, then renamed: never a half file
        torch.onnx.export(m, torch.randn(1, 3, 224, 224), tmp, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
        os.replace(tmp, args.onnx)

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    json.dump({"torch": torch.__version__, "threads": args.threads, **blas_info(),
               "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
               "peak_rss_mb": peak_rss_mb, "results": results}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
