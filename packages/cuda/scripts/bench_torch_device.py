"""PyTorch + cuDNN on the device check's workloads (device-check.sh runs it on the GPU machine), one JSON line.

rates (default): the same workloads as ours: training steps of the paper net (227x227, LRN, two-tower groups), of
torchvision's AlexNet (224x224) at batch 128 and of small-bn (32x32x3, batch norm) with SGD momentum on one
resident batch of random data, and SGEMM on random data at 4096^3 and AlexNet's shapes, all in float32 (TF32 off,
cudnn.benchmark on). Nothing is downloaded.

compare --dir DIR: the outputs. device-check.mjs export wrote the torchvision net's weights (seed 7), a batch,
our logits, loss and one backward's gradients (eval mode: no dropout); this loads the weights into torch's AlexNet
(built from the weights' shapes), runs the same batch (on the GPU when there is one, else the CPU, in float64
for the reference as well as float32) and compares, with these tolerances (float32 with different summation
orders on both sides, depth 8):
    logits      max |ours - torch| <= 1e-4 * max |torch|
    loss        |ours - torch| <= 1e-5 * |torch|
    gradients   per tensor ||ours - torch||_2 <= 1e-3 * ||torch||_2

    python3 bench_torch_device.py [rates] [--batch 128] [--steps 20] [--small]
    python3 bench_torch_device.py compare --dir DIR
"""
import argparse
import json
import os
import sys
import time


def compare(d: str) -> None:
    import torch
    import torch.nn as nn

    with open(os.path.join(d, "manifest.json")) as f:
        man = json.load(f)
    blobs = {k: torch.from_numpy(__import__("numpy").fromfile(os.path.join(d, f"{k}.f32"), dtype="<f4"))
             for k in ("weights", "grads")}

    def get(kind: str, name: str) -> "torch.Tensor":
        t = next(t for t in man["tensors"] if t["kind"] == kind and t["name"] == name)
        n = 1
        for s in t["shape"]:
            n *= s
        return blobs[kind][t["offset"]:t["offset"] + n].reshape(t["shape"]).clone()

    sd = {t["name"]: get("weights", t["name"]) for t in man["tensors"]
          if t["kind"] == "weights" and t["name"] not in ("input", "logits")}
    w = lambda k: sd[f"{k}.weight"].shape  # noqa: E731
    class AlexNet(nn.Module):
        """torchvision.models.alexnet's layout (features / avgpool / classifier indices), widths from the weights."""

        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, w("features.0")[0], 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(w("features.3")[1], w("features.3")[0], 5, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2),
                nn.Conv2d(w("features.6")[1], w("features.6")[0], 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(w("features.8")[1], w("features.8")[0], 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(w("features.10")[1], w("features.10")[0], 3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2))
            self.avgpool = nn.AdaptiveAvgPool2d(6)
            self.classifier = nn.Sequential(
                nn.Dropout(), nn.Linear(w("classifier.1")[1], w("classifier.1")[0]), nn.ReLU(inplace=True),
                nn.Dropout(), nn.Linear(w("classifier.4")[1], w("classifier.4")[0]), nn.ReLU(inplace=True),
                nn.Linear(w("classifier.6")[1], w("classifier.6")[0]))

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    x, labels = get("weights", "input"), torch.tensor(man["labels"], dtype=torch.long)
    ours_logits = get("weights", "logits")

    def run(dtype: "torch.dtype"):
        net = AlexNet()
        net.load_state_dict(sd, strict=True)
        net = net.to(dev, dtype).eval()
        logits = net(x.to(dev, dtype))
        loss = nn.functional.cross_entropy(logits, labels.to(dev))
        loss.backward()
        return logits.detach().double().cpu(), float(loss), {n: p.grad.double().cpu() for n, p in net.named_parameters()}

    out = {"ok": True, "torch": torch.__version__, "device": str(dev), "batch": man["batch"], "size": man["size"]}
    for label, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        logits, loss, grads = run(dtype)
        lerr = float((ours_logits.double() - logits).abs().max() / logits.abs().max())
        loss_err = abs(man["loss"] - loss) / abs(loss)
        gerr = {n: float((get("grads", n).double() - g).norm() / g.norm()) for n, g in grads.items()}
        worst = max(gerr, key=gerr.get)
        r = {"logitsMaxErrRel": lerr, "lossRelErr": loss_err, "gradMaxRelL2": gerr[worst], "gradWorst": worst,
             "ok": lerr <= 1e-4 and loss_err <= 1e-5 and gerr[worst] <= 1e-3}
        out[label] = r
        out["ok"] = out["ok"] and r["ok"]
    out["tolerance"] = {"logitsMaxErrRel": 1e-4, "lossRelErr": 1e-5, "gradMaxRelL2": 1e-3}
    print(json.dumps(out))


def main() -> None:
    mode = "rates"
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        mode = sys.argv.pop(1)
    if mode == "compare":
        cp = argparse.ArgumentParser()
        cp.add_argument("--dir", required=True)
        try:
            import torch  # noqa: F401
        except Exception as e:  # noqa: BLE001
            print(json.dumps({"ok": None, "skipped": f"no torch: {e}"}))
            return
        return compare(cp.parse_args().dir)
    if mode != "rates":
        raise SystemExit(f"bench_torch_device.py: unknown mode '{mode}' (rates, compare)")
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

    def small_bn(classes: int = 10) -> nn.Module:
        def block(i: int, o: int) -> list:
            return [nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
        return nn.Sequential(*block(3, 32), nn.MaxPool2d(2), *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(64 * 8 * 8, 256), nn.ReLU(inplace=True), nn.Linear(256, classes))

    def train_rate(net: nn.Module, size: int, classes: int = 1000) -> float:
        net = net.to(dev)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss()
        x = torch.randn(a.batch, 3, size, size, device=dev)
        y = torch.randint(0, classes, (a.batch,), device=dev)

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
    out["trainImagesPerSec"] = {"paper": train_rate(paper(), 227), "torchvision": train_rate(torchvision_alexnet(), 224),
                                "small-bn": train_rate(small_bn(), 32, 10)}
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
