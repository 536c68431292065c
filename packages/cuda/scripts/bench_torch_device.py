"""PyTorch + cuDNN on the device check's workloads (device-check.sh runs it on the GPU machine), one JSON line.

The same workloads as ours: training steps of the paper net (227x227, LRN, two-tower groups) and of torchvision's
AlexNet (224x224) at batch 128 with SGD momentum on random data (1000 classes), and SGEMM at 4096^3, all in
float32 (TF32 off, cudnn.benchmark on). Nothing is downloaded.

    python3 bench_torch_device.py [--batch 128] [--steps 20] [--small]
"""
import argparse
import json
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--small", action="store_true", help="tiny sizes (a check of this script without a GPU)")
    a = ap.parse_args()
    try:
        import torch
        import torch.nn as nn
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"ok": None, "skipped": f"no torch: {e}"}))
        return
    if not torch.cuda.is_available():
        print(json.dumps({"ok": None, "skipped": "torch.cuda.is_available() is false"}))
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")

    def paper(classes: int = 1000) -> nn.Module:
        lrn = lambda: nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)  # alpha/size = the paper's 1e-4
        return nn.Sequential(
            nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Flatten(), nn.Linear(9216, 4096), nn.ReLU(inplace=True), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(), nn.Linear(4096, classes),
        )

    def torchvision_alexnet(classes: int = 1000) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.AdaptiveAvgPool2d(6), nn.Flatten(), nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(inplace=True),
            nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, classes),
        )

    def train_rate(net: nn.Module, size: int) -> float:
        net = net.to(dev)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss()
        x = torch.randn(a.batch, 3, size, size, device=dev)
        y = torch.randint(0, 1000, (a.batch,), device=dev)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            loss.item()  # the scalar comes down each step, as in our trainer

        for _ in range(3):
            step()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        torch.cuda.synchronize()
        return a.batch * a.steps / (time.perf_counter() - t0)

    def sgemm(m: int, n: int, k: int, trans_b: bool = False) -> float:
        A = torch.randn(m, k, device=dev)
        B = torch.randn(n, k, device=dev) if trans_b else torch.randn(k, n, device=dev)
        f = (lambda: A @ B.t()) if trans_b else (lambda: A @ B)
        for _ in range(3):
            f()
        torch.cuda.synchronize()
        reps = 10
        t0 = time.perf_counter()
        for _ in range(reps):
            f()
        torch.cuda.synchronize()
        return 2 * m * n * k / ((time.perf_counter() - t0) / reps) / 1e9

    out = {"ok": True, "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
           "device": torch.cuda.get_device_name(0), "batch": a.batch}
    if a.small:
        out["sgemmGflops"] = {"256^3": sgemm(256, 256, 256)}
        return print(json.dumps(out))
    out["trainImagesPerSec"] = {"paper": train_rate(paper(), 227), "torchvision": train_rate(torchvision_alexnet(), 224)}
    out["sgemmGflops"] = {
        "4096^3": sgemm(4096, 4096, 4096),
        "fc6": sgemm(128, 4096, 9216, True),
        "fc7": sgemm(128, 4096, 4096, True),
        "conv2-group": sgemm(128, 729, 1200),
        "conv3": sgemm(384, 169, 2304),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        print(json.dumps({"ok": False, "error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
