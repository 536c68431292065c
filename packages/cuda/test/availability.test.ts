// available() and its reasons, the build the installer made, and the error paths when CUDA cannot run.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  available, buildInfo, createCudaBackend, CudaDevice, cudaUnavailableReason, reasonFromProbe, type BuildInfo, type Probe,
} from '../src/index.js';

const cudaBuild: BuildInfo = { kind: 'cuda', builtWithCuda: true, archs: '75,80,86,89,90', buildNote: 'nvcc 13.0.88' };
const probe = (p: Partial<Probe>): Probe => ({
  runtimeVersion: 13000, driverVersion: 13000, error: 0, errorName: 'cudaSuccess', errorString: 'no error', devices: [], ...p,
});
const h100 = { name: 'NVIDIA H100', major: 9, minor: 0, multiprocessors: 132, totalMemory: 80e9 };

describe('reasonFromProbe', () => {
  it('names each reason precisely', () => {
    expect(reasonFromProbe({ kind: 'stub', builtWithCuda: false, archs: '', buildNote: 'CONVNET_CUDA=off' }, probe({})))
      .toMatch(/^@convnet\/cuda was built without CUDA \(CONVNET_CUDA=off\); reinstall it where nvcc is on PATH/);
    expect(reasonFromProbe(cudaBuild, probe({ error: 35, driverVersion: 0, errorName: 'cudaErrorInsufficientDriver', errorString: 'CUDA driver version is insufficient for CUDA runtime version' })))
      .toBe('no NVIDIA driver found (libcuda.so.1 could not be loaded; cudaGetDeviceCount: cudaErrorInsufficientDriver (35): CUDA driver version is insufficient for CUDA runtime version)');
    expect(reasonFromProbe(cudaBuild, probe({ error: 35, driverVersion: 12040, errorName: 'cudaErrorInsufficientDriver' })))
      .toMatch(/^the NVIDIA driver is too old: it supports CUDA 12\.4, this build needs CUDA 13\.0/);
    expect(reasonFromProbe(cudaBuild, probe({ error: 100, errorName: 'cudaErrorNoDevice', errorString: 'no CUDA-capable device is detected' })))
      .toMatch(/^no CUDA device found \(cudaGetDeviceCount: cudaErrorNoDevice \(100\)/);
    expect(reasonFromProbe(cudaBuild, probe({ devices: [] }))).toMatch(/returned 0 devices/);
    expect(reasonFromProbe(cudaBuild, probe({ error: 999, errorName: 'cudaErrorUnknown', errorString: 'unknown error' })))
      .toMatch(/^CUDA could not be initialised \(cudaGetDeviceCount: cudaErrorUnknown \(999\)/);
    expect(reasonFromProbe(cudaBuild, probe({ devices: [{ ...h100, name: 'Tesla V100', major: 7, minor: 0 }] })))
      .toMatch(/^no CUDA device this build has code for: Tesla V100 \(sm_70\); built for sm_75, sm_80/);
    expect(reasonFromProbe(cudaBuild, probe({ devices: [h100] }))).toBeNull();
  });
});

const nvcc = (() => {
  try {
    return execFileSync(process.env.CUDACXX || 'nvcc', ['--version'], { encoding: 'utf8' });
  } catch {
    return null;
  }
})();

describe('this installation', () => {
  const info = buildInfo();

  it(nvcc && process.env.CONVNET_CUDA !== 'off'
    ? 'nvcc is here, so the CUDA kernels were compiled with it for every architecture asked for'
    : 'no nvcc here (or CONVNET_CUDA=off): the stub says why', () => {
    if (nvcc && process.env.CONVNET_CUDA !== 'off') {
      expect(info.kind).toBe('cuda');
      const b = info as BuildInfo;
      expect(b.builtWithCuda).toBe(true);
      expect(b.archs).toBe((process.env.CONVNET_CUDA_ARCHS || '75;80;86;89;90').replaceAll(';', ','));
      const version = /release (\d+\.\d+)/.exec(nvcc)![1];
      expect(b.buildNote).toContain(`nvcc ${version}`);
    } else {
      expect(info.kind).toBe('stub');
      expect((info as BuildInfo).buildNote).toMatch(/CONVNET_CUDA=off|no CUDA toolkit/);
    }
  });

  it('available() never throws, and agrees with cudaUnavailableReason()', () => {
    const a = available();
    const reason = cudaUnavailableReason();
    if (a.ok) {
      expect(reason).toBeNull();
      expect(a.devices.length).toBeGreaterThan(0);
    } else {
      expect(reason).toBe(a.reason);
      expect(a.reason.length).toBeGreaterThan(10);
    }
    expect(cudaUnavailableReason('gpu')).toBe("'gpu' is not a CUDA device name (expected 'cuda' or 'cuda:N')");
    if (a.ok) expect(cudaUnavailableReason('cuda:999')).toMatch(/^there is no CUDA device 999/);
    else expect(cudaUnavailableReason('cuda:3')).toBe(a.reason);
  });

  it.runIf(!available().ok)('without a usable device, opening one fails with the reason (no crash)', () => {
    const a = available();
    if (a.ok) return;
    expect(() => createCudaBackend()).toThrow(`cuda: unavailable: ${a.reason}`);
    expect(() => CudaDevice.get(0)).toThrow(/^cuda: unavailable: /);
    expect(() => CudaDevice.get(-1)).toThrow(/device index must be a non-negative integer, got -1/);
    if (info.kind === 'cuda') {
      // this machine: nvcc 13, cudart linked statically, no libcuda
      expect(a.reason).toMatch(/^no NVIDIA driver found|^the NVIDIA driver is too old|^no CUDA device/);
    }
  });

  it('the emulator only has device 0', () => {
    expect(() => CudaDevice.get(1, { emulator: true })).toThrow('cuda (emulator): only device 0 exists, got 1');
  });
});
