#!/usr/bin/python3
"""Writes packages/optim/test/fixtures/torch-optim-extra.json: PyTorch ground truth for what the shared
fixtures (test/fixtures/optim.json, schedules*.json) do not cover:

  - schedules: ConstantLR, SequentialLR chains (the torch docstring's ConstantLR -> ExponentialLR, a
    three-stage LinearLR -> StepLR -> CosineAnnealingLR, ConstantLR -> MultiStepLR with a repeated milestone),
    two parameter groups with different lrs, ReduceLROnPlateau in max / abs modes with per-group min_lr and
    cooldown;
  - optimisers over two parameter groups with different settings (SGD with Nesterov in one group and
    dampening in the other; Adam and AdamW with custom betas / eps), 10 float32 steps;
  - SGD whose lr changes every step (StepLR stepped per iteration), which pins down where lr enters the
    momentum update.

Run with Debian's python3-torch (1.13):  /usr/bin/python3 packages/optim/test/pytorch/make_fixtures.py
Add --check to fail if the committed file would change. Tests never need torch; they read the JSON.

Format: {"torch": version, "schedules": [case], "optim": [case]}
  schedule case: {"name", "baseLrs": [per group], "spec": {...}, "lrs": [[lr of each group] per epoch]}
      for epoch schedulers lrs[0] is right after construction and lrs[e] after e calls of step();
      for ReduceLROnPlateau "metrics" is given and lrs[i] is the lr after step(metrics[i]).
  optim case: {"name", "optimizer": "sgd"|"adam"|"adamw", "groups": [{"lr", ... torch settings in our
      names, "params": [indices]}], "params": [tensor], "grads": [[tensor per param] per step],
      "trajectory": [[tensor per param] after each step], "perStepLr"?: {"stepSize", "gamma"}}
  tensor: {"shape": [...], "data": [float32 values written as exact doubles]}
"""
import argparse
import json
import os
import sys
import tempfile
import warnings

import torch
from torch.optim import lr_scheduler as S

warnings.filterwarnings('ignore')
torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures', 'torch-optim-extra.json')


def fx(t):
    t = t.detach().float()
    return {'shape': list(t.shape), 'data': t.reshape(-1).tolist()}


def make_sched(opt, spec):
    k = spec['kind']
    if k == 'ConstantLR':
        return S.ConstantLR(opt, factor=spec['factor'], total_iters=spec['totalIters'])
    if k == 'LinearLR':
        return S.LinearLR(opt, start_factor=spec['startFactor'], end_factor=spec['endFactor'], total_iters=spec['totalIters'])
    if k == 'StepLR':
        return S.StepLR(opt, step_size=spec['stepSize'], gamma=spec['gamma'])
    if k == 'MultiStepLR':
        return S.MultiStepLR(opt, milestones=spec['milestones'], gamma=spec['gamma'])
    if k == 'ExponentialLR':
        return S.ExponentialLR(opt, gamma=spec['gamma'])
    if k == 'CosineAnnealingLR':
        return S.CosineAnnealingLR(opt, T_max=spec['tMax'], eta_min=spec['etaMin'])
    if k == 'SequentialLR':
        children = [make_sched(opt, c) for c in spec['schedulers']]
        return S.SequentialLR(opt, children, milestones=spec['milestones'])
    raise ValueError(k)


def sgd_for(base_lrs):
    return torch.optim.SGD([{'params': [torch.nn.Parameter(torch.zeros(1))], 'lr': lr} for lr in base_lrs], lr=base_lrs[0])


def epoch_case(name, spec, base_lrs=(0.1,), epochs=31):
    opt = sgd_for(list(base_lrs))
    sch = make_sched(opt, spec)
    lrs = [[g['lr'] for g in opt.param_groups]]
    for _ in range(1, epochs):
        opt.step()
        sch.step()
        lrs.append([g['lr'] for g in opt.param_groups])
    return {'name': name, 'baseLrs': list(base_lrs), 'spec': spec, 'lrs': lrs}


def plateau_case(name, spec, metrics, base_lrs=(0.1,)):
    opt = sgd_for(list(base_lrs))
    sch = S.ReduceLROnPlateau(opt, mode=spec['mode'], factor=spec['factor'], patience=spec['patience'],
                              threshold=spec['threshold'], threshold_mode=spec['thresholdMode'],
                              cooldown=spec['cooldown'], min_lr=spec['minLr'], eps=spec['eps'])
    lrs = []
    for m in metrics:
        sch.step(m)
        lrs.append([g['lr'] for g in opt.param_groups])
    return {'name': name, 'baseLrs': list(base_lrs), 'spec': spec, 'metrics': metrics, 'lrs': lrs}


TORCH_NAMES = {'lr': 'lr', 'momentum': 'momentum', 'weightDecay': 'weight_decay', 'dampening': 'dampening',
               'nesterov': 'nesterov', 'betas': 'betas', 'eps': 'eps'}


def optim_case(name, optimizer, groups, gen, steps=10, per_step_lr=None):
    shapes = [[3, 4], [4], [2, 3]]
    params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in shapes]
    p0 = [fx(p) for p in params]
    tgroups = []
    for g in groups:
        tg = {TORCH_NAMES[k]: (tuple(v) if k == 'betas' else v) for k, v in g.items() if k != 'params'}
        tg['params'] = [params[i] for i in g['params']]
        tgroups.append(tg)
    cls = {'sgd': torch.optim.SGD, 'adam': torch.optim.Adam, 'adamw': torch.optim.AdamW}[optimizer]
    opt = cls(tgroups, lr=groups[0]['lr'])
    sch = S.StepLR(opt, step_size=per_step_lr['stepSize'], gamma=per_step_lr['gamma']) if per_step_lr else None
    grads, traj = [], []
    for _ in range(steps):
        gs = [torch.randn(s, generator=gen) for s in shapes]
        for p, g in zip(params, gs):
            p.grad = g.clone()
        opt.step()
        if sch:
            sch.step()
        grads.append([fx(g) for g in gs])
        traj.append([fx(p) for p in params])
    case = {'name': name, 'optimizer': optimizer, 'groups': groups, 'params': p0, 'grads': grads, 'trajectory': traj}
    if per_step_lr:
        case['perStepLr'] = per_step_lr
    return case


def build():
    schedules = [
        epoch_case('constant', {'kind': 'ConstantLR', 'factor': 0.5, 'totalIters': 4}),
        epoch_case('seq_constant_exponential', {'kind': 'SequentialLR', 'milestones': [2], 'schedulers': [
            {'kind': 'ConstantLR', 'factor': 0.1, 'totalIters': 2}, {'kind': 'ExponentialLR', 'gamma': 0.9}]}),
        epoch_case('seq_linear_step_cosine', {'kind': 'SequentialLR', 'milestones': [3, 12], 'schedulers': [
            {'kind': 'LinearLR', 'startFactor': 0.2, 'endFactor': 1.0, 'totalIters': 3},
            {'kind': 'StepLR', 'stepSize': 4, 'gamma': 0.5},
            {'kind': 'CosineAnnealingLR', 'tMax': 10, 'etaMin': 0.001}]}, epochs=41),
        epoch_case('seq_constant_multistep', {'kind': 'SequentialLR', 'milestones': [4], 'schedulers': [
            {'kind': 'ConstantLR', 'factor': 0.25, 'totalIters': 3},
            {'kind': 'MultiStepLR', 'milestones': [2, 5, 5, 9], 'gamma': 0.3}]}),
        epoch_case('cosine_two_groups', {'kind': 'CosineAnnealingLR', 'tMax': 7, 'etaMin': 0.0005}, base_lrs=(0.1, 0.02)),
        epoch_case('step_two_groups', {'kind': 'StepLR', 'stepSize': 3, 'gamma': 0.5}, base_lrs=(0.1, 0.02)),
        plateau_case('plateau_max_abs', {'mode': 'max', 'factor': 0.5, 'patience': 1, 'threshold': 0.01,
                                         'thresholdMode': 'abs', 'cooldown': 2, 'minLr': [0.02, 0.001], 'eps': 1e-8},
                     [0.5, 0.6, 0.605, 0.61, 0.7, 0.69, 0.7, 0.7, 0.705, 0.71, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7],
                     base_lrs=(0.1, 0.01)),
        plateau_case('plateau_min_abs', {'mode': 'min', 'factor': 0.1, 'patience': 0, 'threshold': 0.05,
                                         'thresholdMode': 'abs', 'cooldown': 0, 'minLr': [0.0], 'eps': 1e-8},
                     [1.0, 0.97, 0.9, 0.89, 0.8, float('nan'), 0.79, 0.7]),
        plateau_case('plateau_max_rel', {'mode': 'max', 'factor': 0.2, 'patience': 2, 'threshold': 0.1,
                                         'thresholdMode': 'rel', 'cooldown': 1, 'minLr': [0.0], 'eps': 1e-3},
                     [0.1, 0.2, 0.21, 0.22, 0.23, 0.3, 0.31, 0.32, 0.33, 0.34, 0.35, 0.36, 0.37, 0.38]),
    ]
    gen = torch.Generator().manual_seed(2024)
    optim = [
        optim_case('sgd_two_groups', 'sgd', [
            {'lr': 0.1, 'momentum': 0.9, 'weightDecay': 1e-3, 'nesterov': True, 'params': [0, 2]},
            {'lr': 0.05, 'momentum': 0.5, 'dampening': 0.2, 'params': [1]}], gen),
        optim_case('adam_two_groups', 'adam', [
            {'lr': 0.01, 'betas': [0.8, 0.99], 'eps': 1e-6, 'weightDecay': 0.05, 'params': [0]},
            {'lr': 0.003, 'params': [1, 2]}], gen),
        optim_case('adamw_custom', 'adamw', [
            {'lr': 0.02, 'betas': [0.85, 0.995], 'eps': 1e-7, 'weightDecay': 0.1, 'params': [0, 1, 2]}], gen),
        optim_case('sgd_momentum_lr_per_step', 'sgd', [
            {'lr': 0.2, 'momentum': 0.9, 'weightDecay': 5e-4, 'params': [0, 1, 2]}], gen,
            per_step_lr={'stepSize': 2, 'gamma': 0.5}),
    ]
    return {'torch': torch.__version__, 'schedules': schedules, 'optim': optim}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--check', action='store_true')
    args = ap.parse_args()
    data = build()
    # JSON has no NaN: a NaN metric is written as null (the tests read null as NaN)
    for c in data['schedules']:
        if 'metrics' in c:
            c['metrics'] = [None if m != m else m for m in c['metrics']]  # null = NaN
    text = json.dumps(data, separators=(',', ':')) + '\n'
    if args.check:
        with open(OUT) as f:
            if f.read() != text:
                print(f'{OUT} would change', file=sys.stderr)
                sys.exit(1)
        print('up to date')
        return
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(OUT))
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, OUT)
    print(f'wrote {OUT} ({len(text)} bytes)')


if __name__ == '__main__':
    main()
