#!/usr/bin/python3
"""Ground truth for @convnet/kernels-batchnorm from PyTorch (Debian's python3-torch):
    /usr/bin/python3 packages/kernels-batchnorm/test/make_fixture.py
writes test/fixtures/batchnorm.json. torch.nn.BatchNorm2d (affine, running stats, momentum 0.1, eps 1e-5) in
float64: two training steps (outputs, running statistics after each, gradients of sum(y * dy)), then eval mode.
The tests never need torch."""
import json
import os

import torch

torch.manual_seed(13)
here = os.path.dirname(os.path.abspath(__file__))


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


cases = []
for name, shape, momentum, eps in [
    ("[2,3,4,5] momentum 0.1", (2, 3, 4, 5), 0.1, 1e-5),
    ("[1,4,3,3] batch 1, momentum 0.3, eps 1e-3", (1, 4, 3, 3), 0.3, 1e-3),
    ("[5,2,1,1] 1x1 planes", (5, 2, 1, 1), 0.1, 1e-5),
]:
    c = shape[1]
    bn = torch.nn.BatchNorm2d(c, eps=eps, momentum=momentum).double()
    with torch.no_grad():
        bn.weight.copy_(torch.randn(c, dtype=torch.float64))
        bn.bias.copy_(torch.randn(c, dtype=torch.float64))
    # float32-representable inputs, so float32 code sees exactly these values
    weight = bn.weight.detach().float().double()
    bias = bn.bias.detach().float().double()
    with torch.no_grad():
        bn.weight.copy_(weight)
        bn.bias.copy_(bias)
    init = {"weight": t(weight), "bias": t(bias)}
    steps = []
    bn.train()
    for _ in range(2):
        x = (torch.randn(shape) * 2 + 0.5).double().requires_grad_(True)
        dy = torch.randn(shape).double()
        bn.zero_grad()
        y = bn(x)
        (y * dy).sum().backward()
        steps.append({
            "x": t(x), "dy": t(dy), "y": t(y), "dx": t(x.grad), "dweight": t(bn.weight.grad), "dbias": t(bn.bias.grad),
            "running_mean": t(bn.running_mean), "running_var": t(bn.running_var),
        })
    bn.eval()
    x = torch.randn(shape).double()
    with torch.no_grad():
        ev = {"x": t(x), "y": t(bn(x))}
    cases.append({"name": name, "momentum": momentum, "eps": eps, "init": init, "train": steps, "eval": ev,
                  "state_dict_keys": sorted(bn.state_dict().keys())})

out = {"torch": torch.__version__, "cases": cases}
path = os.path.join(here, "fixtures", "batchnorm.json")
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(out, f)
os.replace(tmp, path)
print(f"wrote {path}: {len(cases)} cases")


# ---- alexnet-bn: the PyTorch module matching @convnet/kernels-batchnorm's alexnetBnSpec (1×28×28, 10 classes).
# Its weights and running statistics follow a formula both sides compute (a 20 MB state dict would not belong
# in the repo): the fixture holds the state dict's names and shapes, an input and the logits in eval mode.
class AlexNetBN(torch.nn.Module):
    def __init__(self, channels=1, size=28, classes=10):
        super().__init__()
        nn = torch.nn

        def block(cin, cout, k):
            return [nn.Conv2d(cin, cout, k, padding=(k - 1) // 2), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(
            *block(channels, 64, 5), nn.MaxPool2d(3, 2), *block(64, 192, 5), nn.MaxPool2d(3, 2),
            *block(192, 384, 3), *block(384, 256, 3), *block(256, 256, 3), nn.MaxPool2d(3, 2))
        s = size
        for _ in range(3):
            s = (s - 3) // 2 + 1
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(256 * s * s, 1024), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(1024, 1024), nn.ReLU(inplace=True), nn.Linear(1024, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def formula_fill(sd):
    """value_i = sin(0.7·i + 1.3·k) scaled per kind (k: the key's index in sorted order); see the test."""
    import math
    keys = sorted(k for k in sd if not k.endswith("num_batches_tracked"))
    for k_index, key in enumerate(keys):
        t = sd[key]
        n = t.numel()
        base = torch.sin(0.7 * torch.arange(n, dtype=torch.float64) + 1.3 * k_index)
        if key.endswith("running_var"):
            v = 1 + 0.5 * base.abs()
        elif key.endswith("running_mean") or key.endswith("bias"):
            v = 0.1 * base
        elif t.dim() == 1:  # batch-norm weight
            v = 1 + 0.1 * base
        else:
            v = base / math.sqrt(n / t.shape[0])
        t.copy_(v.float().reshape(t.shape))


net = AlexNetBN()
with torch.no_grad():
    formula_fill(net.state_dict())
net.eval()
x = torch.randn(2, 1, 28, 28)
with torch.no_grad():
    logits = net(x.double().float())
alex = {"state_dict": [[k, list(v.shape)] for k, v in net.state_dict().items()], "x": t(x), "logits": t(logits)}
out["alexnet_bn"] = alex
with open(tmp, "w") as f:
    json.dump(out, f)
os.replace(tmp, path)
print(f"wrote alexnet_bn to {path}")
