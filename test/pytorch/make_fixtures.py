#!/usr/bin/python3
"""Writes the PyTorch ground-truth fixtures in test/fixtures/ (the format: test/fixtures/README.md).

Run with Debian's python3-torch (not the pyenv python3 on PATH):

    /usr/bin/python3 test/pytorch/make_fixtures.py            # rewrite test/fixtures/
    /usr/bin/python3 test/pytorch/make_fixtures.py --check    # regenerate elsewhere, fail if a file would change
    /usr/bin/python3 test/pytorch/make_fixtures.py --out DIR  # write somewhere else

Files written:
  ops.json, optim.json, schedules.json, state.json, state.safetensors   the first set (read by the tests of
      @convnet/tensor, @convnet/optim and @convnet/layers); one random stream (torch.manual_seed(1234)) drawn
      in the order below, so these five files come out byte for byte as committed. Do not reorder, insert
      or delete draws in first_set(); add new cases to extra_set() instead.
  ops-extra.json, schedules-extra.json   further cases in the same format (seed 4321, drawn after the first
      set, so they can grow without touching it).

Numbers: inputs are drawn as float32 and stored exactly (JSON numbers are the float32 values written as
doubles). Outputs and gradients are PyTorch's float32 results (torch.float32 autograd), optimizer steps run in
float32, schedules are Python floats. The script runs single-threaded (torch.set_num_threads(1)): with more
threads PyTorch's float32 reductions may change order and the last bits of some outputs.

Upstream gradients dy of the op cases are drawn from a fresh generator seeded 7 for each case (so they do not
consume the main stream). Tests and CI never need torch: they only read the files this script writes.
"""
import argparse
import filecmp
import json
import math
import os
import struct
import sys
import tempfile
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim import lr_scheduler as S


SHORT = False  # extra_set() writes each float32 as its shortest decimal (half the bytes, same float32 when read)


def short(v):
    """The double nearest to v's shortest float32 decimal; JSON.parse + Float32Array give back v exactly."""
    d = float(np.format_float_positional(np.float32(v), unique=True, trim='-')) if v != 0 else v
    assert np.float32(d) == np.float32(v) and (v != 0 or math.copysign(1, d) == math.copysign(1, v))
    return d


def fx(t):
    """A tensor as the fixtures store it: {"shape": [...], "data": [row-major float32 values as numbers]}."""
    t = t.detach().float()
    data = t.reshape(-1).tolist()
    return {'shape': list(t.shape), 'data': [short(v) for v in data] if SHORT else data}


def upstream(shape):
    """The upstream gradient dy of an op case: standard normal from a fresh generator seeded 7."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(7))


class OpCases:
    """Collects op cases: {op, name, attrs, inputs, upstream | labels, outputs}."""

    def __init__(self):
        self.cases = []

    def grad_case(self, op, name, attrs, inputs, fn, grads):
        """y = fn(**inputs); dy = upstream(y.shape); outputs y and, for each (input, output name) in grads, its gradient."""
        xs = {k: v.clone().requires_grad_(any(k == g for g, _ in grads)) for k, v in inputs.items()}
        y = fn(**xs)
        dy = upstream(y.shape)
        y.backward(dy)
        outputs = {'y': fx(y)}
        for k, out in grads:
            outputs[out] = fx(xs[k].grad)
        self.cases.append({'op': op, 'name': name, 'attrs': attrs, 'inputs': {k: fx(v) for k, v in inputs.items()},
                           'upstream': fx(dy), 'outputs': outputs})

    def conv(self, name, xs, ws, stride, padding, groups, wscale=0.2):
        x = torch.randn(*xs)
        w = torch.randn(*ws) * wscale
        b = torch.randn(ws[0])
        self.grad_case('conv2d', name, {'stride': stride, 'padding': padding, 'groups': groups}, {'x': x, 'w': w, 'b': b},
                       lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups),
                       [('x', 'dx'), ('w', 'dw'), ('b', 'db')])

    def lrn(self, name, xs, xscale, size, alpha, beta, k, alpha_mode='divide-by-size'):
        """alpha is ours; PyTorch always divides by size, so in 'paper' mode it gets alpha * size."""
        x = torch.randn(*xs) * xscale
        torch_alpha = alpha * size if alpha_mode == 'paper' else alpha
        self.grad_case('lrn', name, {'size': size, 'alpha': alpha, 'beta': beta, 'k': k, 'alphaMode': alpha_mode},
                       {'x': x}, lambda x: F.local_response_norm(x, size, torch_alpha, beta, k), [('x', 'dx')])

    def maxpool(self, name, xs, kernel, stride, padding, rule, x=None):
        x = torch.randn(*xs) if x is None else x
        self.grad_case('maxPool2d', name, {'kernel': kernel, 'stride': stride, 'padding': padding, 'sizeRule': rule},
                       {'x': x}, lambda x: F.max_pool2d(x, kernel, stride, padding, ceil_mode=rule == 'ceil'), [('x', 'dx')])

    def avgpool(self, name, xs, kernel, stride, padding, rule, cip):
        x = torch.randn(*xs)
        self.grad_case('avgPool2d', name, {'kernel': kernel, 'stride': stride, 'padding': padding, 'sizeRule': rule,
                                           'countIncludePad': cip}, {'x': x},
                       lambda x: F.avg_pool2d(x, kernel, stride, padding, ceil_mode=rule == 'ceil', count_include_pad=cip),
                       [('x', 'dx')])

    def adaptive(self, name, xs, out):
        x = torch.randn(*xs)
        self.grad_case('adaptiveAvgPool2d', name, {'outputSize': out}, {'x': x},
                       lambda x: F.adaptive_avg_pool2d(x, out), [('x', 'dx')])

    def activation(self, name, fn, x):
        f = {'relu': torch.relu, 'logistic': torch.sigmoid, 'tanh': torch.tanh, 'abs': torch.abs, 'softplus': F.softplus}[fn]
        self.grad_case('activation', name, {'fn': fn}, {'x': x}, lambda x: f(x), [('x', 'dx')])

    def cross_entropy(self, name, logits, labels, hits=False):
        L = logits.clone().requires_grad_()
        loss = F.cross_entropy(L, torch.tensor(labels))  # reduction 'mean'
        loss.backward()
        outputs = {'loss': loss.item(), 'dlogits': fx(L.grad), 'softmax': fx(F.softmax(logits, dim=1))}
        if hits:  # our kernel's rule: a label is a top-k hit when fewer than k classes have a strictly larger logit
            larger = [(logits[i] > logits[i, labels[i]]).sum().item() for i in range(len(labels))]
            outputs['top1Hits'] = sum(n < 1 for n in larger)
            outputs['top5Hits'] = sum(n < 5 for n in larger)
        self.cases.append({'op': 'softmaxCrossEntropy', 'name': name, 'attrs': {}, 'inputs': {'logits': fx(logits)},
                           'labels': labels, 'outputs': outputs})

    def linear(self, name, n, fin, fout, wscale=1.0):
        x = torch.randn(n, fin)
        w = torch.randn(fout, fin) * wscale
        b = torch.randn(fout)
        self.grad_case('linear', name, {}, {'x': x, 'w': w, 'b': b}, lambda x, w, b: F.linear(x, w, b),
                       [('x', 'dx'), ('w', 'dw'), ('b', 'db')])


def dump(obj, path):
    with open(path, 'w') as f:
        json.dump(obj, f)


def lr_trace(name, attrs, make, base_lr=0.1, steps=30):
    """lrs[0] is the lr right after the scheduler is built, lrs[e] the lr after e calls of scheduler.step()."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = make(opt)
    lrs = [opt.param_groups[0]['lr']]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]['lr'])
    return {'name': name, 'attrs': attrs, 'baseLr': base_lr, 'lrs': lrs}


def plateau_trace(name, metrics, cooldown, base_lr=0.1):
    """lrs[i] is the lr after step(metrics[i])."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = S.ReduceLROnPlateau(opt, mode='min', factor=0.1, patience=2, threshold=1e-4, threshold_mode='rel',
                                cooldown=cooldown)
    lrs = []
    for m in metrics:
        opt.step()
        sched.step(m)
        lrs.append(opt.param_groups[0]['lr'])
    return {'name': name, 'attrs': {'kind': 'ReduceLROnPlateau', 'mode': 'min', 'factor': 0.1, 'patience': 2,
                                    'threshold': 0.0001, 'thresholdMode': 'rel', 'cooldown': cooldown},
            'baseLr': base_lr, 'metrics': metrics, 'lrs': lrs}


# ---------------------------------------------------------------------------------------------- the first set


def first_set(out):
    """ops.json, optim.json, schedules.json, state.json, state.safetensors: one stream, in this exact order."""
    torch.manual_seed(1234)

    ops = OpCases()
    ops.conv('conv_basic', (2, 3, 9, 9), (4, 3, 3, 3), 1, 1, 1)
    ops.conv('conv_stride4', (1, 3, 23, 23), (5, 3, 11, 11), 4, 0, 1)
    ops.conv('conv_groups2', (2, 4, 7, 7), (6, 2, 5, 5), 1, 2, 2)
    ops.conv('conv_odd', (1, 2, 13, 7), (3, 2, 3, 2), 2, 1, 1)
    ops.lrn('lrn5', (2, 8, 5, 5), 2, 5, 0.01, 0.75, 2.0)
    ops.lrn('lrn3_odd', (1, 7, 3, 4), 2, 3, 0.5, 0.75, 1.0)
    ops.maxpool('maxpool_3_2', (2, 3, 13, 13), 3, 2, 0, 'floor')
    ops.maxpool('maxpool_3_2_ceil', (1, 2, 12, 12), 3, 2, 0, 'ceil')
    ops.maxpool('maxpool_pad', (1, 2, 7, 6), 3, 2, 1, 'floor')
    ops.avgpool('avgpool_pad_cip', (1, 2, 7, 7), 3, 2, 1, 'floor', True)
    ops.avgpool('avgpool_pad_nocip', (1, 2, 7, 7), 3, 2, 1, 'floor', False)
    ops.avgpool('avgpool_ceil', (2, 2, 8, 8), 3, 2, 0, 'ceil', True)
    ops.adaptive('adaptive_13_6', (1, 3, 13, 13), 6)
    ops.adaptive('adaptive_5_3', (1, 3, 5, 5), 3)
    ops.adaptive('adaptive_6_6', (1, 3, 6, 6), 6)
    for fn in ('relu', 'logistic', 'tanh', 'abs', 'softplus'):
        ops.activation(fn, fn, torch.randn(3, 17) * 3)
    ops.cross_entropy('ce_6x10', torch.randn(6, 10) * 2, [3, 0, 9, 9, 4, 1])
    ops.linear('linear_5x7x4', 5, 7, 4)
    dump({'torch': torch.__version__, 'cases': ops.cases}, os.path.join(out, 'ops.json'))

    # Optimizers: one parameter of 13 values, 10 given gradients; trajectory[t] = the parameter after step t+1.
    w0 = torch.randn(13)
    grads = [torch.randn(13) for _ in range(10)]
    runs = []

    def run(name, attrs, make):
        p = torch.nn.Parameter(w0.clone())
        opt = make([p])
        traj = []
        for g in grads:
            p.grad = g.clone()
            opt.step()
            traj.append(fx(p))
        runs.append({'name': name, 'attrs': attrs, 'trajectory': traj})

    O = torch.optim
    run('sgd_momentum_decay', {'optimizer': 'sgd', 'lr': 0.1, 'momentum': 0.9, 'weightDecay': 0.0005},
        lambda ps: O.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.0005))
    run('sgd_nesterov', {'optimizer': 'sgd', 'lr': 0.05, 'momentum': 0.9, 'weightDecay': 0.001, 'nesterov': True},
        lambda ps: O.SGD(ps, lr=0.05, momentum=0.9, weight_decay=0.001, nesterov=True))
    run('sgd_plain', {'optimizer': 'sgd', 'lr': 0.2}, lambda ps: O.SGD(ps, lr=0.2))
    run('sgd_dampening', {'optimizer': 'sgd', 'lr': 0.1, 'momentum': 0.5, 'dampening': 0.3},
        lambda ps: O.SGD(ps, lr=0.1, momentum=0.5, dampening=0.3))
    run('adam', {'optimizer': 'adam', 'lr': 0.01}, lambda ps: O.Adam(ps, lr=0.01))
    run('adam_l2', {'optimizer': 'adam', 'lr': 0.01, 'weightDecay': 0.1}, lambda ps: O.Adam(ps, lr=0.01, weight_decay=0.1))
    run('adamw', {'optimizer': 'adamw', 'lr': 0.01, 'weightDecay': 0.01}, lambda ps: O.AdamW(ps, lr=0.01, weight_decay=0.01))
    # The paper's rule is not in torch: v <- mu*v - lr*wd*w - lr*g; w <- w + v (v starts at 0), in float32.
    lr, mu, wd = 0.01, 0.9, 0.0005
    w, v, traj = w0.clone(), torch.zeros(13), []
    for g in grads:
        v = mu * v - lr * wd * w - lr * g
        w = w + v
        traj.append(fx(w))
    runs.append({'name': 'sgd_paper_rule', 'attrs': {'optimizer': 'sgd', 'rule': 'paper', 'lr': lr, 'momentum': mu,
                                                     'weightDecay': wd}, 'trajectory': traj})
    dump({'torch': torch.__version__, 'cases': {'w0': fx(w0), 'grads': [fx(g) for g in grads], 'runs': runs}},
         os.path.join(out, 'optim.json'))

    # Schedules (no random numbers).
    schedules = [
        lr_trace('step', {'kind': 'StepLR', 'stepSize': 7, 'gamma': 0.1}, lambda o: S.StepLR(o, 7, 0.1)),
        lr_trace('multistep', {'kind': 'MultiStepLR', 'milestones': [5, 12, 20], 'gamma': 0.1},
                 lambda o: S.MultiStepLR(o, [5, 12, 20], 0.1)),
        lr_trace('exponential', {'kind': 'ExponentialLR', 'gamma': 0.9}, lambda o: S.ExponentialLR(o, 0.9)),
        lr_trace('cosine', {'kind': 'CosineAnnealingLR', 'tMax': 20, 'etaMin': 0.0001},
                 lambda o: S.CosineAnnealingLR(o, 20, 0.0001), steps=45),
        lr_trace('linear', {'kind': 'LinearLR', 'startFactor': 0.25, 'endFactor': 1.0, 'totalIters': 5},
                 lambda o: S.LinearLR(o, 0.25, 1.0, 5)),
        plateau_trace('plateau', [1.0, 0.9, 0.85, 0.86, 0.85, 0.8499, 0.849, 0.84, 0.84, 0.84, 0.84, 0.5, 0.6, 0.6,
                                  0.6, 0.6, 0.6, 0.6, 0.6, 0.6], cooldown=1),
    ]
    dump({'torch': torch.__version__, 'cases': schedules}, os.path.join(out, 'schedules.json'))

    # A small state dict in the safetensors format, written by hand (Debian bookworm has no python3-safetensors):
    # u64 little-endian header length N, N bytes of JSON header ({"__metadata__": {...}, name: {"dtype", "shape",
    # "data_offsets": [begin, end]}} with names sorted, offsets relative to the data section, which holds the
    # tensors back to back in that sorted order), padded with spaces to a multiple of 8, then the raw
    # little-endian data. state.json holds the expected values.
    sd = {
        'features.0.weight': torch.randn(4, 3, 3, 3),
        'features.0.bias': torch.randn(4),
        'classifier.1.weight': torch.randn(2, 6),
        'classifier.1.bias': torch.randn(2).half(),
        'num_batches_tracked': torch.tensor([7, -3], dtype=torch.int64),
    }
    dtypes = {torch.float32: 'F32', torch.float16: 'F16', torch.int64: 'I64'}
    header = {'__metadata__': {'format': 'pt', 'source': 'make_fixtures.py'}}
    data = b''
    for k in sorted(sd):
        raw = sd[k].numpy().astype(sd[k].numpy().dtype.newbyteorder('<')).tobytes()
        header[k] = {'dtype': dtypes[sd[k].dtype], 'shape': list(sd[k].shape), 'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode('utf-8')
    h += b' ' * (-len(h) % 8)
    with open(os.path.join(out, 'state.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + data)
    dump({k: {'dtype': dtypes[t.dtype], 'shape': list(t.shape), 'data': t.double().reshape(-1).tolist()}
          for k, t in sd.items()}, os.path.join(out, 'state.json'))


# ---------------------------------------------------------------------------------------------- extra cases


def extra_set(out):
    """ops-extra.json and schedules-extra.json: cases the first set lacks, same format, own seed."""
    global SHORT
    SHORT = True
    torch.manual_seed(4321)
    ops = OpCases()
    # conv: AlexNet conv1 geometry (11x11, stride 4, padding 2), stride 4 + padding 2 with groups 2, odd and
    # rectangular sizes, batch 1 and 2, 1x1.
    ops.conv('x_conv1_11x11_s4_p2_n1', (1, 3, 23, 23), (4, 3, 11, 11), 4, 2, 1, wscale=0.05)
    ops.conv('x_conv_7x5_s4_p2_g2_n2', (2, 4, 15, 13), (6, 2, 7, 5), 4, 2, 2)
    ops.conv('x_conv_3x3_s2_p1_g2_n1', (1, 4, 7, 9), (6, 2, 3, 3), 2, 1, 2)
    ops.conv('x_conv_rect_s2x1_p1x0_n2', (2, 3, 9, 8), (4, 3, 3, 2), [2, 1], [1, 0], 1)
    ops.conv('x_conv_1x1_n1', (1, 5, 5, 7), (3, 5, 1, 1), 1, 0, 1)
    # LRN: even size (asymmetric window [c-2, c+1]), fewer channels than the window, AlexNet's own values
    # (alpha 1e-4 on large activations), and our 'paper' alpha mode (PyTorch called with alpha * size).
    ops.lrn('x_lrn4_even_window', (2, 6, 3, 4), 3, 4, 0.05, 0.75, 1.0)
    ops.lrn('x_lrn5_fewer_channels_than_size', (1, 3, 3, 3), 4, 5, 0.01, 0.75, 2.0)
    ops.lrn('x_lrn5_alexnet_alpha_large_inputs', (1, 9, 4, 4), 40, 5, 1e-4, 0.75, 2.0)
    ops.lrn('x_lrn5_paper_mode', (2, 7, 3, 3), 4, 5, 2e-3, 0.75, 2.0, alpha_mode='paper')
    # max pooling: floor vs ceil where they differ in both dims, ceil with padding, the ceil window that
    # would start in the padding (dropped), AlexNet's 27 -> 13, and ties (first maximum in scan order wins).
    ops.maxpool('x_maxpool_14x12_floor', (2, 2, 14, 12), 3, 2, 0, 'floor')
    ops.maxpool('x_maxpool_14x12_ceil', (2, 2, 14, 12), 3, 2, 0, 'ceil')
    ops.maxpool('x_maxpool_p1_ceil', (1, 2, 8, 8), 3, 2, 1, 'ceil')
    ops.maxpool('x_maxpool_k2_p1_ceil_last_window_dropped', (1, 2, 5, 5), 2, 2, 1, 'ceil')
    ops.maxpool('x_maxpool_alexnet_27_to_13', (1, 2, 27, 27), 3, 2, 0, 'floor')
    ops.maxpool('x_maxpool_ties', (1, 2, 7, 7), 3, 2, 0, 'floor', x=torch.randint(0, 3, (1, 2, 7, 7)).float())
    # average pooling: every combination of floor/ceil and count_include_pad, with and without padding.
    for xs, k, s, p in [((2, 2, 9, 10), 3, 2, 1), ((1, 2, 5, 5), 2, 2, 1), ((1, 3, 14, 12), 3, 2, 0)]:
        for rule in ('floor', 'ceil'):
            for cip in (True, False):
                ops.avgpool(f'x_avgpool_{xs[2]}x{xs[3]}_k{k}s{s}p{p}_{rule}_{"cip" if cip else "nocip"}',
                            xs, k, s, p, rule, cip)
    # adaptive average pooling: rectangular, and output larger than input (overlapping windows).
    ops.adaptive('x_adaptive_13x13_to_6_n2', (2, 2, 13, 13), 6)
    ops.adaptive('x_adaptive_10x7_to_4x5', (1, 3, 10, 7), [4, 5])
    ops.adaptive('x_adaptive_3x4_to_5x6', (1, 2, 3, 4), [5, 6])
    # neurons at their edges: exact zeros (relu'(0) = abs'(0) = 0 in PyTorch), tiny values, softplus around its
    # threshold (x > 20 gives x), saturation.
    edges = torch.tensor([[0.0, -0.0, 1e-30, -1e-30, 1e-3, -1e-3, 19.5], [20.0, 20.5, 25.0, -25.0, 60.0, -60.0, 0.0]])
    for fn in ('relu', 'logistic', 'tanh', 'abs', 'softplus'):
        ops.activation(f'x_{fn}_edges', fn, edges)
    # cross-entropy: N from 1 to 8, large logits (log-sum-exp must not overflow); with top-1 / top-5 hits.
    for name, n, c, scale in [('x_ce_4x10', 4, 10, 1.0), ('x_ce_8x10', 8, 10, 3.0), ('x_ce_5x10_large_logits', 5, 10, 30.0),
                              ('x_ce_1x3', 1, 3, 1.0)]:
        logits = torch.randn(n, c) * scale
        labels = torch.randint(0, c, (n,)).tolist()
        ops.cross_entropy(name, logits, labels, hits=True)
    ops.linear('x_linear_1x16x10', 1, 16, 10, wscale=0.25)
    ops.linear('x_linear_3x33x7', 3, 33, 7, wscale=0.2)
    dump({'torch': torch.__version__, 'cases': ops.cases}, os.path.join(out, 'ops-extra.json'))

    warmup, tmax, eta, start = 5, 25, 1e-4, 0.1
    schedules = [
        # SequentialLR(LinearLR warmup, CosineAnnealingLR) switching at epoch 5: lrs[e] = 0.1*(0.1 + 0.9*e/5) for
        # e < 5, then eta + (0.1 - eta)*(1 + cos(pi*(e-5)/25))/2 (the cosine counts its own epochs from the switch).
        lr_trace('warmup_cosine', {
            'kind': 'SequentialLR', 'milestones': [warmup],
            'schedulers': [{'kind': 'LinearLR', 'startFactor': start, 'endFactor': 1.0, 'totalIters': warmup},
                           {'kind': 'CosineAnnealingLR', 'tMax': tmax, 'etaMin': eta}]},
            lambda o: S.SequentialLR(o, [S.LinearLR(o, start, 1.0, warmup), S.CosineAnnealingLR(o, tmax, eta)],
                                     milestones=[warmup])),
        # cooldown 0. 0.79995 (best 0.8) and 0.39997 (best 0.4) are lower than the best but not below
        # best * (1 - threshold): bad epochs; 0.7999 and 0.39995 are improvements.
        plateau_trace('plateau_cooldown0', [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.79995, 0.7999, 0.81, 0.82, 0.83, 0.5, 0.4,
                                            0.4, 0.4, 0.4, 0.39997, 0.39995, 0.5, 0.6, 0.7, 0.3, 0.3, 0.3, 0.3, 0.3,
                                            0.3, 0.3, 0.2, 0.2], cooldown=0),
    ]
    e = schedules[0]['lrs']
    want = [0.1 * (start + (1 - start) * i / warmup) if i < warmup
            else eta + (0.1 - eta) * (1 + math.cos(math.pi * (i - warmup) / tmax)) / 2 for i in range(len(e))]
    assert all(abs(a - b) <= 1e-12 for a, b in zip(e, want)), 'SequentialLR does not follow the documented formula'
    dump({'torch': torch.__version__, 'cases': schedules}, os.path.join(out, 'schedules-extra.json'))


def generate(out):
    global SHORT
    SHORT = False
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    warnings.simplefilter('ignore')  # lr_scheduler's deprecation chatter
    first_set(out)
    extra_set(out)


FILES = ['ops.json', 'optim.json', 'schedules.json', 'state.json', 'state.safetensors', 'ops-extra.json',
         'schedules-extra.json']


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(os.path.dirname(here), 'fixtures'))
    ap.add_argument('--check', action='store_true', help='fail if regenerating would change a file in --out')
    args = ap.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(tmp)
            changed = [f for f in FILES if not os.path.exists(os.path.join(args.out, f))
                       or not filecmp.cmp(os.path.join(tmp, f), os.path.join(args.out, f), shallow=False)]
        if changed:
            print('fixtures would change: ' + ', '.join(changed), file=sys.stderr)
            sys.exit(1)
        print(f'fixtures are up to date ({len(FILES)} files)')
        return
    generate(args.out)
    for f in FILES:
        print(f'{os.path.getsize(os.path.join(args.out, f)):>9} {os.path.join(args.out, f)}')


if __name__ == '__main__':
    main()
