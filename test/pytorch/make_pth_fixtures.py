#!/usr/bin/python3
"""Small state dicts written by torch.save, for the TypeScript .pth reader (packages/layers/test/pth.test.ts).

Writes test/fixtures/pth/*.pth and expected.json (every tensor's shape and values as float32 numbers, in
row-major order after PyTorch's own view/stride handling). Also checks the other direction: the .pth files our
writer produced (convnet-written.pth, committed; the test rewrites it byte for byte) load with torch.load and
into a module with load_state_dict(strict=True); the result goes to expected.json under "convnet_written".
Run: /usr/bin/python3 test/pytorch/make_pth_fixtures.py
"""
import collections
import json
import os

import torch
import torch.nn as nn

torch.manual_seed(2016)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "pth")


class Evil:
    """What an attacker's pickle looks like: unpickling it would call os.system."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def small_net():
    return nn.Sequential(
        collections.OrderedDict(
            [
                ("features", nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())),
                ("classifier", nn.Sequential(nn.Flatten(), nn.Linear(4 * 2 * 2, 3))),
            ]
        )
    )


def values(t):
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "data": t.detach().to(torch.float32).reshape(-1).tolist()}


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    def save(name, obj, sd, legacy=False):
        path = os.path.join(OUT, name)
        torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
        expected[name] = {k: values(v) for k, v in sd.items()}

    net = small_net()
    with torch.no_grad():
        net.features[1].running_mean.normal_()
        net.features[1].running_var.uniform_(0.5, 2)
        net.features[1].num_batches_tracked.fill_(7)
    sd = net.state_dict()  # an OrderedDict with _metadata (pickled with BUILD), an int64 entry
    save("zip-f32.pth", sd, sd)
    save("legacy-f32.pth", sd, sd, legacy=True)

    half = collections.OrderedDict((k, v.half()) for k, v in sd.items() if v.is_floating_point())
    save("zip-f16.pth", half, half)
    bf = collections.OrderedDict((k, v.bfloat16()) for k, v in sd.items() if v.is_floating_point())
    save("zip-bf16.pth", bf, bf)
    dbl = collections.OrderedDict((k, v.double()) for k, v in sd.items() if v.is_floating_point())
    save("legacy-f64.pth", dbl, dbl, legacy=True)

    # views: a transpose (non-contiguous), a slice at an offset, two tensors sharing one storage, an expanded
    # (stride 0) tensor, a scalar and an empty tensor
    base = torch.randn(6, 5)
    views = collections.OrderedDict()
    views["transposed"] = base.t()
    views["sliced"] = base[2:5, 1:4]
    views["row"] = base[3]
    views["shared_whole"] = base
    views["expanded"] = torch.randn(3, 1).expand(3, 4)
    views["scalar"] = torch.tensor(2.5)
    views["empty"] = torch.zeros(0, 3)
    save("zip-views.pth", views, views)
    save("legacy-views.pth", views, views, legacy=True)

    # a training checkpoint that nests the state dict, and bare nn.Parameters (_rebuild_parameter)
    ck = {"epoch": 3, "best_acc1": 0.5, "arch": "small", "state_dict": sd, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1}]}}
    save("checkpoint.pth", ck, sd)
    params = collections.OrderedDict((k, nn.Parameter(v.clone())) for k, v in sd.items() if v.is_floating_point())
    save("parameters.pth", params, params)

    # refused: a pickle that would run os.system when unpickled by Python's pickle
    torch.save({"x": Evil()}, os.path.join(OUT, "evil.pth"))

    # the other direction: the file our writer produced must load strictly into the same module
    mine = os.path.join(OUT, "convnet-written.pth")
    if os.path.exists(mine):
        loaded = torch.load(mine)
        fresh = small_net()
        sd_float = collections.OrderedDict((k, v) for k, v in loaded.items())
        # our writer writes every tensor as float32; num_batches_tracked is an int64 buffer in PyTorch
        if "features.1.num_batches_tracked" in sd_float:
            sd_float["features.1.num_batches_tracked"] = sd_float["features.1.num_batches_tracked"].long()
        result = fresh.load_state_dict(sd_float, strict=True)
        expected["convnet_written"] = {
            "type": type(loaded).__name__,
            "strict_load": str(result),
            "tensors": {k: values(v) for k, v in loaded.items()},
        }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, sort_keys=True)


if __name__ == "__main__":
    main()
