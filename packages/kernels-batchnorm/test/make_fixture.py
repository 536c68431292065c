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
