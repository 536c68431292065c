#!/usr/bin/python3
"""Writes the PyTorch ground-truth fixtures in test/fixtures/ (format: test/fixtures/README.md).

Run with Debian's python3-torch:   /usr/bin/python3 test/pytorch/make_fixtures.py
Options: --out DIR (default: test/fixtures next to this script's parent), --check (regenerate into a
temporary folder and fail if any committed file would change).

Deterministic: every fixture group seeds its own generator (torch.manual_seed), so adding a case to
one group never changes another group's numbers, and re-running the script rewrites identical bytes.

Numbers: inputs are drawn as float32 and stored exactly. Op outputs and gradients are computed by
PyTorch in float64 from those float32 inputs and then rounded to float32 (the most accurate oracle for
a float32 implementation); the script also recomputes every op in float32 and asserts that PyTorch's
float32 result agrees with the stored one, so the fixture is PyTorch's behaviour, not a float64 quirk.
Optimizer steps run in float32, as training does. Schedules are plain Python floats (float64).

Tests and CI never need torch: only the files this script writes are read.
"""
import argparse
import filecmp
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

FORMAT = 'convnet-fixture/1'
GENERATOR = 'test/pytorch/make_fixtures.py'

# ---------------------------------------------------------------------------------------------- writing


class Fixture:
    """One fixture group: NAME.json (manifest) + NAME.bin (little-endian tensor data, 4-byte aligned)."""

    def __init__(self, name, about, seed):
        self.name = name
        self.about = about
        self.seed = seed
        self.cases = []
        self.blob = bytearray()
        torch.manual_seed(seed)

    def tensor(self, t, dtype='float32'):
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().numpy()
        a = np.ascontiguousarray(t)
        if dtype == 'float32':
            a = a.astype('<f4')
        elif dtype == 'int32':
            assert np.all(a == a.astype(np.int32)), 'int32 overflow'
            a = a.astype('<i4')
        else:
            raise ValueError(dtype)
        while len(self.blob) % 4:
            self.blob.append(0)
        offset = len(self.blob)
        self.blob += a.tobytes()
        return {'dtype': dtype, 'shape': list(a.shape), 'offset': offset, 'length': int(a.size)}

    def case(self, name, attrs=None, tensors=None, values=None, note=None):
        assert all(c['name'] != name for c in self.cases), name
        c = {'name': name}
        if note:
            c['note'] = note
        c['attrs'] = attrs or {}
        if values is not None:
            c['values'] = values
        c['tensors'] = {k: (v if isinstance(v, dict) else self.tensor(v)) for k, v in (tensors or {}).items()}
        self.cases.append(c)

    def write(self, out_dir):
        manifest = {
            'format': FORMAT,
            'fixture': self.name,
            'about': self.about,
            'generator': GENERATOR,
            'torch': torch.__version__,
            'seed': self.seed,
            'bin': f'{self.name}.bin' if self.blob else None,
            'cases': self.cases,
        }
        with open(os.path.join(out_dir, f'{self.name}.json'), 'w') as f:
            json.dump(manifest, f, indent=1)
            f.write('\n')
        if self.blob:
            with open(os.path.join(out_dir, f'{self.name}.bin'), 'wb') as f:
                f.write(bytes(self.blob))


def randn(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float32) * scale).float()


def f32(t):
    return t.detach().float()


def agree(name, got32, want64, rtol=1e-4, atol=1e-5):
    """Asserts PyTorch's float32 result matches the float64-derived fixture value."""
    g = got32.detach().double()
    w = want64.detach().double()
    if not torch.allclose(g, w, rtol=rtol, atol=atol):
        err = (g - w).abs().max().item()
        raise AssertionError(f'{name}: float32 PyTorch disagrees with float64 by {err}')


def run_both(name, fn, inputs, grad_out=None, grad_wrt=()):
    """Runs fn on float64 copies (with grads) and on float32 copies; checks agreement; returns float64 results.

    inputs: dict name -> float32 tensor. grad_wrt: names whose gradient is wanted (given grad_out).
    Returns (out64, {name: grad64}).
    """
    results = {}
    for dt in (torch.float64, torch.float32):
        xs = {k: (v.to(dt).clone().requires_grad_(k in grad_wrt) if v.is_floating_point() else v) for k, v in inputs.items()}
        out = fn(**xs)
        grads = {}
        if grad_wrt:
            out.backward(grad_out.to(dt))
            grads = {k: xs[k].grad.clone() for k in grad_wrt}
        results[dt] = (out.detach(), grads)
    out64, g64 = results[torch.float64]
    out32, g32 = results[torch.float32]
    agree(f'{name} output', out32, out64)
    for k in grad_wrt:
        agree(f'{name} d{k}', g32[k], g64[k])
    return out64, g64


# ---------------------------------------------------------------------------------------------- ops


def ops_conv2d():
    fx = Fixture('conv2d', 'F.conv2d forward (with bias) and the gradients wrt input, weight and bias for the given '
                 'upstream gradient dy. Layouts NCHW / OIHW. Sizes use PyTorch\'s floor rule.', seed=101)
    cases = [
        # name, x shape, w shape, stride, padding, groups
        ('conv1_like_s4_p2_n1', (1, 3, 23, 23), (8, 3, 11, 11), (4, 4), (2, 2), 1),
        ('s4_p2_g2_n2', (2, 4, 19, 17), (6, 2, 7, 5), (4, 4), (2, 2), 2),
        ('5x5_p2_g2_n2', (2, 6, 9, 11), (4, 3, 5, 5), (1, 1), (2, 2), 2),
        ('3x3_s2_p1_g2_odd_n1', (1, 4, 7, 9), (6, 2, 3, 3), (2, 2), (1, 1), 1 * 2),
        ('3x3_p1_n2', (2, 5, 6, 7), (3, 5, 3, 3), (1, 1), (1, 1), 1),
        ('1x1_n1', (1, 5, 5, 7), (3, 5, 1, 1), (1, 1), (0, 0), 1),
        ('rect_s2x1_p1x0_n2', (2, 3, 9, 8), (4, 3, 3, 2), (2, 1), (1, 0), 1),
    ]
    for name, xs, ws, stride, pad, groups in cases:
        x = randn(*xs)
        w = randn(*ws, scale=1.0 / math.sqrt(ws[1] * ws[2] * ws[3]))
        b = randn(ws[0], scale=0.1)
        oh = (xs[2] + 2 * pad[0] - ws[2]) // stride[0] + 1
        ow = (xs[3] + 2 * pad[1] - ws[3]) // stride[1] + 1
        dy = randn(xs[0], ws[0], oh, ow)
        y, g = run_both(name, lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=pad, groups=groups),
                        {'x': x, 'w': w, 'b': b}, dy, ('x', 'w', 'b'))
        assert list(y.shape) == [xs[0], ws[0], oh, ow]
        fx.case(name, {'stride': list(stride), 'padding': list(pad), 'groups': groups},
                {'x': x, 'w': w, 'b': b, 'y': f32(y), 'dy': dy, 'dx': f32(g['x']), 'dw': f32(g['w']), 'db': f32(g['b'])})
    return fx


def ops_lrn():
    fx = Fixture('lrn', 'F.local_response_norm (PyTorch convention: scale = k + alpha/size * sum of x^2 over the '
                 'window [c - size//2, c + (size-1)//2] clipped to the channels; y = x / scale^beta), i.e. our '
                 "alphaMode 'divide-by-size'. Forward y and the input gradient dx for upstream dy.", seed=102)
    cases = [
        # name, x shape, input scale, size, alpha, beta, k
        ('size5', (2, 8, 5, 6), 4.0, 5, 1e-2, 0.75, 2.0),
        ('size3_odd_channels', (1, 7, 4, 5), 4.0, 3, 1e-2, 0.75, 2.0),
        ('size4_even_window', (2, 6, 3, 4), 3.0, 4, 5e-2, 0.75, 1.0),
        ('size5_fewer_channels_than_size', (1, 3, 3, 3), 4.0, 5, 1e-2, 0.75, 2.0),
        ('size5_paper_alpha_large_inputs', (1, 9, 4, 4), 40.0, 5, 1e-4, 0.75, 2.0),
    ]
    for name, xs, s, size, alpha, beta, k in cases:
        x = randn(*xs, scale=s)
        dy = randn(*xs)
        y, g = run_both(name, lambda x: F.local_response_norm(x, size, alpha=alpha, beta=beta, k=k), {'x': x}, dy, ('x',))
        # Self-check of the convention against the formula.
        x64 = x.double()
        sq = F.pad((x64 * x64).unsqueeze(1), (0, 0, 0, 0, size // 2, (size - 1) // 2)).squeeze(1)
        win = sum(sq[:, j:j + xs[1]] for j in range(size))
        assert torch.allclose(y, x64 / (k + alpha / size * win) ** beta, rtol=1e-12, atol=1e-12)
        effect = (y / x64 - 1).abs().max().item()
        fx.case(name, {'size': size, 'alpha': alpha, 'beta': beta, 'k': k},
                {'x': x, 'y': f32(y), 'dy': dy, 'dx': f32(g['x'])},
                note=f'largest relative change |y/x - 1| = {effect:.3f}')
    return fx


def ops_maxpool():
    fx = Fixture('maxpool2d', 'F.max_pool2d forward and input gradient (dy routed to the first maximum of each '
                 'window in scan order; overlapping windows sum).', seed=103)
    cases = [
        # name, x shape, kernel, stride, padding, ceil_mode, integer-valued (ties)
        ('k3s2_floor', (2, 3, 14, 12), 3, 2, 0, False, False),
        ('k3s2_ceil', (2, 3, 14, 12), 3, 2, 0, True, False),
        ('k3s2_alexnet_27_to_13', (1, 4, 27, 27), 3, 2, 0, False, False),
        ('k3s2_p1_floor', (1, 2, 8, 8), 3, 2, 1, False, False),
        ('k3s2_p1_ceil', (1, 2, 8, 8), 3, 2, 1, True, False),
        ('k2s2_p1_ceil_last_window_dropped', (1, 2, 5, 5), 2, 2, 1, True, False),
        ('k3s2_ties_first_max_wins', (1, 2, 7, 7), 3, 2, 0, False, True),
    ]
    for name, xs, kk, ss, pp, ceil, ties in cases:
        x = torch.randint(0, 3, xs).float() if ties else randn(*xs)
        y0 = F.max_pool2d(x, kk, ss, pp, ceil_mode=ceil)
        dy = randn(*y0.shape)
        y, g = run_both(name, lambda x: F.max_pool2d(x, kk, ss, pp, ceil_mode=ceil), {'x': x}, dy, ('x',))
        fx.case(name, {'kernel': [kk, kk], 'stride': [ss, ss], 'padding': [pp, pp], 'ceilMode': ceil},
                {'x': x, 'y': f32(y), 'dy': dy, 'dx': f32(g['x'])})
    return fx


def ops_avgpool():
    fx = Fixture('avgpool2d', 'F.avg_pool2d forward and input gradient. count_include_pad=True divides by the window '
                 'clipped to the padded input (hend = min(hstart + k, H + pad)); False by the real cells.', seed=104)
    i = 0
    for xs, kk, ss, pp in [((2, 3, 9, 10), 3, 2, 1), ((1, 2, 5, 5), 2, 2, 1), ((1, 3, 14, 12), 3, 2, 0), ((2, 2, 7, 6), 3, 1, 1)]:
        for ceil in (False, True):
            for cip in (True, False):
                x = randn(*xs)
                y0 = F.avg_pool2d(x, kk, ss, pp, ceil_mode=ceil, count_include_pad=cip)
                dy = randn(*y0.shape)
                name = f'{xs[2]}x{xs[3]}_k{kk}s{ss}p{pp}_{"ceil" if ceil else "floor"}_{"cip" if cip else "nocip"}'
                y, g = run_both(name, lambda x: F.avg_pool2d(x, kk, ss, pp, ceil_mode=ceil, count_include_pad=cip),
                                {'x': x}, dy, ('x',))
                fx.case(name, {'kernel': [kk, kk], 'stride': [ss, ss], 'padding': [pp, pp], 'ceilMode': ceil,
                               'countIncludePad': cip},
                        {'x': x, 'y': f32(y), 'dy': dy, 'dx': f32(g['x'])})
                i += 1
    return fx


def ops_adaptive():
    fx = Fixture('adaptive_avgpool2d', 'F.adaptive_avg_pool2d forward and input gradient; windows '
                 '[floor(i*in/out), ceil((i+1)*in/out)).', seed=105)
    for name, xs, os_ in [('13_to_6', (2, 3, 13, 13), (6, 6)), ('6_to_6_identity', (1, 4, 6, 6), (6, 6)),
                          ('5_to_3', (2, 2, 5, 5), (3, 3)), ('rect_10x7_to_4x5', (1, 3, 10, 7), (4, 5)),
                          ('upsample_3x4_to_5x6', (1, 2, 3, 4), (5, 6))]:
        x = randn(*xs)
        dy = randn(xs[0], xs[1], *os_)
        y, g = run_both(name, lambda x: F.adaptive_avg_pool2d(x, os_), {'x': x}, dy, ('x',))
        fx.case(name, {'outputSize': list(os_)}, {'x': x, 'y': f32(y), 'dy': dy, 'dx': f32(g['x'])})
    return fx


def topk_hits(logits, labels, k):
    """Hits as our kernel defines them: a label counts when fewer than k classes have a strictly larger logit."""
    hits1 = hitsk = 0
    for i in range(logits.shape[0]):
        larger = int((logits[i] > logits[i, labels[i]]).sum())
        hits1 += larger < 1
        hitsk += larger < k
    return hits1, hitsk


def ops_loss():
    fx = Fixture('softmax_cross_entropy', 'F.cross_entropy (reduction mean) loss and its logits gradient (the '
                 'gradient of the mean loss, i.e. upstream 1.0); top-1 / top-5 hits; and F.softmax(dim=1).',
                 seed=106)
    for name, n, c, s in [('n4_c10', 4, 10, 1.0), ('n8_c10', 8, 10, 2.0), ('n5_c10_large_logits', 5, 10, 40.0),
                          ('n1_c3', 1, 3, 1.0)]:
        logits = randn(n, c, scale=s)
        labels = torch.randint(0, c, (n,))
        loss, g = run_both(name, lambda logits: F.cross_entropy(logits, labels, reduction='mean'),
                           {'logits': logits}, torch.tensor(1.0), ('logits',))
        sm, _ = run_both(name + ' softmax', lambda logits: F.softmax(logits, dim=1), {'logits': logits})
        h1, h5 = topk_hits(logits.double(), labels, 5)
        fx.case(name, {'topk': 5},
                {'logits': logits, 'labels': fx.tensor(labels, 'int32'), 'dlogits': f32(g['logits']), 'softmax': f32(sm)},
                values={'loss': float(np.float32(loss.item())), 'loss_float64': loss.item(), 'top1Hits': h1, 'top5Hits': h5})
    return fx


def ops_activation():
    fx = Fixture('activation', 'Element-wise neurons forward and backward for upstream dy: relu, sigmoid '
                 "(our 'logistic'), tanh, abs, softplus (beta 1, threshold 20: x > 20 gives x).", seed=107)
    fns = {'relu': torch.relu, 'logistic': torch.sigmoid, 'tanh': torch.tanh, 'abs': torch.abs,
           'softplus': lambda x: F.softplus(x, beta=1, threshold=20)}
    x = randn(3, 7, scale=3.0)
    # the edge cases: exact zeros (relu'(0) = abs'(0) = 0 in PyTorch), softplus around its threshold, big magnitudes
    zero = torch.tensor([[0.0, -0.0, 0.0, 1e-30, -1e-30, 19.5, 20.0], [20.5, 25.0, -25.0, 60.0, -60.0, 1e-3, -1e-3]],
                        dtype=torch.float32)
    for label, xin in (('random', x), ('edges', zero)):
        dy = randn(*xin.shape)
        for fn, f in fns.items():
            y, g = run_both(f'{fn} {label}', lambda x: f(x), {'x': xin}, dy, ('x',))
            fx.case(f'{fn}_{label}', {'fn': fn, 'torch': {'logistic': 'sigmoid'}.get(fn, fn)},
                    {'x': xin, 'y': f32(y), 'dy': dy, 'dx': f32(g['x'])})
    return fx


def ops_linear():
    fx = Fixture('linear', 'F.linear: y = x @ W^T + b, with gradients dx = dy @ W, dW = dy^T @ x, db = sum_rows dy.',
                 seed=108)
    for name, n, fin, fout in [('n4_9_to_5', 4, 9, 5), ('n1_16_to_10', 1, 16, 10), ('n3_33_to_7', 3, 33, 7)]:
        x = randn(n, fin)
        w = randn(fout, fin, scale=1 / math.sqrt(fin))
        b = randn(fout, scale=0.1)
        dy = randn(n, fout)
        y, g = run_both(name, lambda x, w, b: F.linear(x, w, b), {'x': x, 'w': w, 'b': b}, dy, ('x', 'w', 'b'))
        fx.case(name, {}, {'x': x, 'w': w, 'b': b, 'y': f32(y), 'dy': dy, 'dx': f32(g['x']), 'dw': f32(g['w']),
                           'db': f32(g['b'])})
    return fx


# ---------------------------------------------------------------------------------------------- optim

STEPS = 10


def optim():
    fx = Fixture('optim', f'Optimizers stepped {STEPS} times in float32 on one parameter w (shape [2, 5]) with a fixed '
                 'sequence of given gradients grads[t] (t = 0..9; grads does not depend on w). w[t] and the state '
                 'tensors [t] are the values AFTER step t+1. torch.optim (1.13) for sgd_*, adam*, while sgd_paper '
                 'is the 2012 paper\'s rule computed by its formula (not in torch).', seed=201)
    w0 = randn(2, 5)
    grads = randn(STEPS, 2, 5, scale=0.5)

    def run(opt_factory, state_keys):
        p = torch.nn.Parameter(w0.clone())
        opt = opt_factory([p])
        ws, states = [], {k: [] for k in state_keys}
        for t in range(STEPS):
            p.grad = grads[t].clone()
            opt.step()
            ws.append(p.detach().clone())
            st = opt.state[p]
            for k in state_keys:
                states[k].append(st[k].detach().clone())
        return torch.stack(ws), {k: torch.stack(v) for k, v in states.items()}

    sgd_cases = [
        ('sgd_momentum', dict(lr=0.1, momentum=0.9, weight_decay=5e-4, dampening=0, nesterov=False)),
        ('sgd_nesterov', dict(lr=0.1, momentum=0.9, weight_decay=5e-4, dampening=0, nesterov=True)),
        ('sgd_plain', dict(lr=0.1, momentum=0, weight_decay=0, dampening=0, nesterov=False)),
        ('sgd_plain_weight_decay', dict(lr=0.1, momentum=0, weight_decay=5e-4, dampening=0, nesterov=False)),
    ]
    for name, hp in sgd_cases:
        keys = ('momentum_buffer',) if hp['momentum'] else ()
        ws, st = run(lambda ps: torch.optim.SGD(ps, **hp), keys)
        tensors = {'w0': w0, 'grads': grads, 'w': ws}
        if keys:
            tensors['momentum_buffer'] = st['momentum_buffer']
        fx.case(name, {'optimizer': 'SGD', 'rule': 'pytorch', **hp, 'maximize': False}, tensors,
                note='PyTorch rule: d = g + wd*w; v = momentum*v + (1-dampening)*d (v = d on the first step); '
                     'w -= lr * (nesterov ? d + momentum*v : v)' if hp['momentum'] else
                     'no momentum: w -= lr * (g + wd*w)')

    # The paper's rule (section 5): v <- mu*v - eps*wd*w - eps*g;  w <- w + v;  v starts at 0. float32, in this order.
    lr, mu, wd = 0.1, 0.9, 5e-4
    w = w0.clone()
    v = torch.zeros_like(w)
    ws, vs = [], []
    for t in range(STEPS):
        v = mu * v - (lr * wd) * w - lr * grads[t]
        w = w + v
        ws.append(w.clone())
        vs.append(v.clone())
    fx.case('sgd_paper', {'optimizer': 'SGD', 'rule': 'paper', 'lr': lr, 'momentum': mu, 'weight_decay': wd},
            {'w0': w0, 'grads': grads, 'w': torch.stack(ws), 'v': torch.stack(vs)},
            note='v <- momentum*v - lr*weight_decay*w - lr*g; w <- w + v; v starts at 0 (computed in float32 by '
                 'the formula; lr*weight_decay is one float64 product rounded when multiplied into float32 w)')

    adam_cases = [
        ('adam', 'Adam', dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False)),
        ('adam_l2', 'Adam', dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False)),
        ('adamw', 'AdamW', dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False)),
    ]
    notes = {
        'Adam': 'g += wd*w (L2, coupled); m = b1*m + (1-b1)*g; s = b2*s + (1-b2)*g^2; '
                'w -= lr/(1-b1^t) * m / (sqrt(s)/sqrt(1-b2^t) + eps)',
        'AdamW': 'w *= 1 - lr*wd (decoupled, before the moments); m, s, update as Adam without L2',
    }
    for name, cls, hp in adam_cases:
        ws, st = run(lambda ps: getattr(torch.optim, cls)(ps, **hp), ('exp_avg', 'exp_avg_sq'))
        fx.case(name, {'optimizer': cls, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in hp.items()},
                       'maximize': False},
                {'w0': w0, 'grads': grads, 'w': ws, 'exp_avg': st['exp_avg'], 'exp_avg_sq': st['exp_avg_sq']},
                note=notes[cls])
    return fx


# ---------------------------------------------------------------------------------------------- schedules

EPOCHS = 30
BASE_LR = 0.01


def schedules():
    from torch.optim import lr_scheduler as S
    fx = Fixture('schedules', f'LR schedules with base lr {BASE_LR} over {EPOCHS} epochs. lr[e] is the lr in effect '
                 'during epoch e = 0..29: the optimizer\'s lr after the scheduler was constructed and then stepped '
                 'e times (scheduler.step() once per epoch, after that epoch\'s optimizer steps). Plain float64.',
                 seed=301)

    def opt():
        return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE_LR, momentum=0.9)

    def trace(make):
        o = opt()
        s = make(o)
        lrs = []
        for _ in range(EPOCHS):
            lrs.append(o.param_groups[0]['lr'])
            o.step()
            s.step()
        return lrs

    def closeto(got, want, what):
        for e, (g, w) in enumerate(zip(got, want)):
            assert abs(g - w) <= 1e-12 * abs(w) + 1e-15, f'{what} epoch {e}: torch {g} vs formula {w}'

    lrs = trace(lambda o: S.StepLR(o, step_size=7, gamma=0.1))
    closeto(lrs, [BASE_LR * 0.1 ** (e // 7) for e in range(EPOCHS)], 'StepLR')
    fx.case('step_lr', {'scheduler': 'StepLR', 'step_size': 7, 'gamma': 0.1},
            values={'base_lr': BASE_LR, 'lr': lrs}, note='lr = base * gamma^floor(e/step_size)')

    lrs = trace(lambda o: S.MultiStepLR(o, milestones=[5, 12, 20], gamma=0.1))
    closeto(lrs, [BASE_LR * 0.1 ** sum(e >= m for m in (5, 12, 20)) for e in range(EPOCHS)], 'MultiStepLR')
    fx.case('multistep_lr', {'scheduler': 'MultiStepLR', 'milestones': [5, 12, 20], 'gamma': 0.1},
            values={'base_lr': BASE_LR, 'lr': lrs}, note='lr = base * gamma^(number of milestones <= e)')

    lrs = trace(lambda o: S.ExponentialLR(o, gamma=0.9))
    closeto(lrs, [BASE_LR * 0.9 ** e for e in range(EPOCHS)], 'ExponentialLR')
    fx.case('exponential_lr', {'scheduler': 'ExponentialLR', 'gamma': 0.9},
            values={'base_lr': BASE_LR, 'lr': lrs}, note='lr = base * gamma^e')

    T, eta = 20, 1e-4
    lrs = trace(lambda o: S.CosineAnnealingLR(o, T_max=T, eta_min=eta))
    closeto(lrs, [eta + (BASE_LR - eta) * (1 + math.cos(math.pi * e / T)) / 2 for e in range(EPOCHS)], 'Cosine')
    fx.case('cosine_annealing_lr', {'scheduler': 'CosineAnnealingLR', 'T_max': T, 'eta_min': eta},
            values={'base_lr': BASE_LR, 'lr': lrs},
            note='lr = eta_min + (base - eta_min) * (1 + cos(pi*e/T_max))/2 for every e, including e > T_max, '
                 'where it rises again (period 2*T_max): epochs 20..29 go back up from eta_min. Torch computes it '
                 'recursively; the closed form agrees to 1e-12 relative.')

    W, T2, start = 5, 25, 0.1
    lrs = trace(lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=start, end_factor=1.0, total_iters=W),
                                              S.CosineAnnealingLR(o, T_max=T2, eta_min=eta)], milestones=[W]))
    want = [BASE_LR * (start + (1 - start) * e / W) if e < W
            else eta + (BASE_LR - eta) * (1 + math.cos(math.pi * (e - W) / T2)) / 2 for e in range(EPOCHS)]
    closeto(lrs, want, 'warmup+cosine')
    fx.case('linear_warmup_cosine', {
        'scheduler': 'SequentialLR', 'milestones': [W],
        'schedulers': [{'scheduler': 'LinearLR', 'start_factor': start, 'end_factor': 1.0, 'total_iters': W},
                       {'scheduler': 'CosineAnnealingLR', 'T_max': T2, 'eta_min': eta}]},
        values={'base_lr': BASE_LR, 'lr': lrs},
        note=f'SequentialLR(LinearLR(start_factor {start}, end_factor 1, total_iters {W}), CosineAnnealingLR(T_max '
             f'{T2}, eta_min {eta}), milestones [{W}]). e < {W}: lr = base * ({start} + (1 - {start}) * e/{W}); '
             f'e >= {W}: lr = eta_min + (base - eta_min) * (1 + cos(pi*(e-{W})/{T2}))/2 (the cosine restarts its '
             f'own epoch count at the milestone, so epoch {W} has the full base lr).')

    # ReduceLROnPlateau fed a fixed metric sequence.
    metrics = [1.0, 0.9, 0.8, 0.8, 0.8, 0.8,           # 3 bad epochs after 0.8 -> reduce at the 3rd (index 5)
               0.79995,                                # better than 0.8 but by < rel 1e-4 (needs < 0.79992): bad
               0.7999, 0.81, 0.82,                     # 0.7999 is a real improvement; then bad, bad
               0.83,                                   # 3rd bad -> reduce (index 10)
               0.5, 0.4, 0.4, 0.4, 0.4,                # improve, then 3 bad -> reduce at index 15
               0.39996, 0.39995,                       # < rel threshold (needs < 0.39996): 0.39996 bad, 0.39995 good
               float('nan'), 0.5, 0.6,                 # NaN compares false (bad), then bad, bad -> reduce (index 20)
               0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.2, 0.2]
    assert len(metrics) == EPOCHS
    o = opt()
    s = S.ReduceLROnPlateau(o, mode='min', factor=0.1, patience=2, threshold=1e-4, threshold_mode='rel', cooldown=0,
                            min_lr=0, eps=1e-8)
    after, bad = [], []
    for m in metrics:
        o.step()
        s.step(m)
        after.append(o.param_groups[0]['lr'])
        bad.append(s.num_bad_epochs)
    fx.case('reduce_on_plateau', {
        'scheduler': 'ReduceLROnPlateau', 'mode': 'min', 'factor': 0.1, 'patience': 2, 'threshold': 1e-4,
        'threshold_mode': 'rel', 'cooldown': 0, 'min_lr': 0, 'eps': 1e-8},
        values={'base_lr': BASE_LR, 'metrics': [None if math.isnan(m) else m for m in metrics],
                'lr_after': after, 'num_bad_epochs_after': bad},
        note='metrics[i] is passed to step(metric) at the end of epoch i; lr_after[i] is the lr after that call '
             '(the lr for epoch i+1); lr during epoch 0 is base_lr. A metric is an improvement when metric < '
             'best * (1 - threshold). After more than patience (2) bad epochs in a row, lr = max(lr * factor, '
             'min_lr) if that changes it by more than eps, and the bad count resets. metrics[18] is null in '
             'JSON: it stands for NaN (never an improvement).')
    return fx


# ---------------------------------------------------------------------------------------------- safetensors

ST_DTYPE = {np.dtype('<f4'): 'F32', np.dtype('<f2'): 'F16', np.dtype('<i8'): 'I64'}


def write_safetensors(path, tensors, metadata):
    """Writes the safetensors format by hand (no python3-safetensors in Debian bookworm), per its spec:
    8-byte little-endian u64 N, then N bytes of UTF-8 JSON header, then the raw little-endian data.
    Header: {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}} with
    offsets relative to the start of the data section. We lay data out sorted by dtype size (largest first)
    then name, so every tensor is naturally aligned, and pad the header with spaces to a multiple of 8 bytes,
    as the reference implementation does.
    """
    order = sorted(tensors, key=lambda k: (-tensors[k].dtype.itemsize, k))
    header = {'__metadata__': metadata}
    data = bytearray()
    entries = {}
    for k in order:
        a = np.ascontiguousarray(tensors[k])
        a = a.astype(a.dtype.newbyteorder('<'))
        begin = len(data)
        data += a.tobytes()
        entries[k] = {'dtype': ST_DTYPE[a.dtype], 'shape': list(a.shape), 'data_offsets': [begin, len(data)]}
    for k in sorted(entries):
        header[k] = entries[k]
    hb = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hb += b' ' * (-len(hb) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hb)))
        f.write(hb)
        f.write(bytes(data))
    return header


def read_safetensors(path):
    """Independent re-read of the file, to check what write_safetensors wrote."""
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    body = raw[8 + n:]
    dt = {'F32': '<f4', 'F16': '<f2', 'I64': '<i8'}
    out = {}
    spans = []
    for k, v in header.items():
        if k == '__metadata__':
            continue
        b, e = v['data_offsets']
        spans.append((b, e))
        out[k] = np.frombuffer(body[b:e], dtype=dt[v['dtype']]).reshape(v['shape'])
    spans.sort()
    assert spans[0][0] == 0 and spans[-1][1] == len(body)
    assert all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1)), 'holes or overlaps'
    return header, out


def safetensors(out_dir):
    torch.manual_seed(401)
    sd = {
        'features.0.weight': randn(4, 3, 3, 3, scale=0.2),
        'features.0.bias': randn(4, scale=0.1),
        'features.3.weight': randn(6, 2, 3, 3, scale=0.2),
        'features.3.bias': randn(6, scale=0.1),
        'classifier.1.weight': randn(5, 8, scale=0.3),
        'classifier.1.bias': randn(5, scale=0.1),
        'classifier.4.weight': randn(3, 5, scale=0.3).half(),
        'meta.counts': torch.tensor([3, -1, 1234567890123], dtype=torch.int64),
    }
    # float16 edge values: largest finite, a subnormal, negative zero
    sd['classifier.4.weight'][2, 2:5] = torch.tensor([65504.0, 6e-8, -0.0], dtype=torch.float16)
    arrays = {k: v.numpy() for k, v in sd.items()}
    metadata = {'format': 'pt', 'generator': GENERATOR}
    path = os.path.join(out_dir, 'state_dict.safetensors')
    header = write_safetensors(path, arrays, metadata)
    h2, back = read_safetensors(path)
    assert h2 == header
    for k, a in arrays.items():
        assert back[k].dtype == a.dtype.newbyteorder('<') and np.array_equal(back[k].view(np.uint8), a.view(np.uint8)), k

    def values(a):
        if a.dtype.kind == 'i':
            return [int(v) for v in a.reshape(-1)]
        return [float(np.float32(v)) if not (v == 0 and math.copysign(1, v) < 0) else -0.0 for v in a.reshape(-1)]

    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    manifest = {
        'format': FORMAT,
        'fixture': 'safetensors',
        'about': 'A small PyTorch-style state dict in the safetensors format, written by hand per the spec (Debian '
                 'bookworm has no python3-safetensors). values are the expected contents in row-major order: '
                 'F32 and F16 as numbers (F16 decoded exactly; -0.0 is written as -0.0), I64 as JSON integers '
                 '(all within 2^53).',
        'generator': GENERATOR,
        'torch': torch.__version__,
        'seed': 401,
        'file': 'state_dict.safetensors',
        'file_bytes': len(raw),
        'header_bytes': n,
        'data_start': 8 + n,
        'metadata': metadata,
        'tensors': {k: {'dtype': header[k]['dtype'], 'shape': header[k]['shape'],
                        'data_offsets': header[k]['data_offsets'], 'values': values(arrays[k])}
                    for k in sorted(arrays)},
    }
    with open(os.path.join(out_dir, 'safetensors.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')


# ---------------------------------------------------------------------------------------------- main


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)  # summation order does not depend on the machine's core count
    for make in (ops_conv2d, ops_lrn, ops_maxpool, ops_avgpool, ops_adaptive, ops_loss, ops_activation, ops_linear,
                 optim, schedules):
        fx = make()
        fx.write(out_dir)
    safetensors(out_dir)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(os.path.dirname(here), 'fixtures'))
    ap.add_argument('--check', action='store_true', help='fail if regenerating would change a committed file')
    args = ap.parse_args()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(tmp)
            changed = [f for f in sorted(os.listdir(tmp))
                       if not os.path.exists(os.path.join(args.out, f))
                       or not filecmp.cmp(os.path.join(tmp, f), os.path.join(args.out, f), shallow=False)]
            if changed:
                print('fixtures would change: ' + ', '.join(changed), file=sys.stderr)
                sys.exit(1)
            print('fixtures are up to date')
        return
    generate(args.out)
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f'wrote fixtures to {args.out} ({total} bytes in all)')


if __name__ == '__main__':
    main()
