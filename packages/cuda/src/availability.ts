/**
 * Whether the `cuda` backend can run here, and if not the precise reason: built without CUDA, no driver,
 * driver too old, no device, or no device of an architecture this build has code for. Never throws.
 */
import { loadAddon, type BuildInfo, type Probe, type ProbeDevice } from './addon.js';

export interface CudaDeviceInfo {
  index: number;
  name: string;
  /** Compute capability, e.g. '8.0'. */
  computeCapability: string;
  multiprocessors: number;
  totalMemory: number;
  /** Peak SM clock in kHz (cudaDevAttrClockRate), 0 where the driver does not say. */
  clockKHz: number;
  /** FP32 FMA lanes per SM for this compute capability (fp32LanesPerSM), null for one not in the table. */
  fp32LanesPerSM: number | null;
  /** The fp32 (non-tensor-core) peak in GFLOP/s: SMs × clock × lanes × 2 (an FMA is two flops); null if unknown. */
  fp32PeakGflops: number | null;
}

/**
 * FP32 FMA lanes ("CUDA cores") per SM, from NVIDIA's per-architecture tables (CUDA C++ Programming Guide,
 * "Arithmetic Instructions", 32-bit floating-point add/multiply/multiply-add results per clock per SM):
 * sm_75 (Turing) 64; sm_80 (A100) 64; sm_86, sm_87, sm_89 (Ampere consumer, Ada) 128; sm_90 (H100/H200) 128
 * (four SM sub-partitions × 32 lanes); sm_100, sm_103, sm_120 (Blackwell) 128. An H100 SXM: 132 SMs × 1.98 GHz ×
 * 128 × 2 = 66.9 TFLOP/s, NVIDIA's figure. Anything else: null (the check then reports no share of peak).
 */
export function fp32LanesPerSM(major: number, minor: number): number | null {
  const cc = major * 10 + minor;
  if (cc === 75 || cc === 80) return 64;
  if ([86, 87, 89, 90, 100, 103, 120, 121].includes(cc)) return 128;
  return null;
}

export type Availability =
  | { ok: true; devices: CudaDeviceInfo[]; build: BuildInfo; runtimeVersion: number; driverVersion: number }
  | { ok: false; reason: string; build: BuildInfo | null };

// cudaError_t values (driver_types.h) that mean something to a user.
const INSUFFICIENT_DRIVER = 35, NO_DEVICE = 100, SYSTEM_DRIVER_MISMATCH = 803, COMPAT_NOT_SUPPORTED = 804;

/** 13000 → '13.0' */
export const cudaVersionString = (v: number) => `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;

/** The reason the probed machine cannot run this build, or null when it can (pure: tested with made-up probes). */
export function reasonFromProbe(build: BuildInfo, probe: Probe): string | null {
  if (!build.builtWithCuda)
    return `@convnet/cuda was built without CUDA (${build.buildNote || 'no reason recorded'}); reinstall it where nvcc is on PATH (CONVNET_CUDA=on makes a missing toolkit an install error)`;
  const call = `cudaGetDeviceCount: ${probe.errorName} (${probe.error}): ${probe.errorString}`;
  if (probe.error === INSUFFICIENT_DRIVER) {
    if (probe.driverVersion === 0) return `no NVIDIA driver found (libcuda.so.1 could not be loaded; ${call})`;
    return `the NVIDIA driver is too old: it supports CUDA ${cudaVersionString(probe.driverVersion)}, this build needs CUDA ${cudaVersionString(probe.runtimeVersion)} (${call})`;
  }
  if (probe.error === NO_DEVICE) return `no CUDA device found (${call})`;
  if (probe.error === SYSTEM_DRIVER_MISMATCH || probe.error === COMPAT_NOT_SUPPORTED)
    return `the NVIDIA driver does not match this system or build (${call})`;
  if (probe.error !== 0) return `CUDA could not be initialised (${call})`;
  if (probe.devices.length === 0) return 'no CUDA device found (cudaGetDeviceCount returned 0 devices)';
  const archs = build.archs.split(',').map((a) => Number(a)).filter((a) => Number.isFinite(a) && a > 0);
  if (archs.length) {
    const oldest = Math.min(...archs);
    const usable = probe.devices.filter((d) => d.major * 10 + d.minor >= oldest);
    if (usable.length === 0)
      return `no CUDA device this build has code for: ${probe.devices.map(fmtDevice).join(', ')}; built for sm_${archs.join(', sm_')} (CUDA ${cudaVersionString(probe.runtimeVersion)} supports sm_75 and newer)`;
  }
  return null;
}

const fmtDevice = (d: ProbeDevice) => `${d.name} (sm_${d.major}${d.minor})`;

let cached: Availability | null = null;

/** Whether CUDA can be used here (probed once per process). */
export function available(): Availability {
  if (cached) return cached;
  const loaded = loadAddon('cuda');
  if (!loaded.addon) return (cached = { ok: false, reason: loaded.error, build: null });
  let build: BuildInfo, probe: Probe;
  try {
    build = loaded.addon.info();
    probe = loaded.addon.probe();
  } catch (e) {
    return (cached = { ok: false, reason: `probing CUDA failed: ${(e as Error).message}`, build: null });
  }
  const reason = reasonFromProbe(build, probe);
  if (reason !== null) return (cached = { ok: false, reason, build });
  const devices = probe.devices.map((d, index) => {
    const lanes = fp32LanesPerSM(d.major, d.minor), clockKHz = d.clockKHz ?? 0;
    return {
      index, name: d.name, computeCapability: `${d.major}.${d.minor}`, multiprocessors: d.multiprocessors, totalMemory: d.totalMemory,
      clockKHz, fp32LanesPerSM: lanes,
      fp32PeakGflops: lanes && clockKHz > 0 ? (d.multiprocessors * clockKHz * 1e3 * lanes * 2) / 1e9 : null,
    };
  });
  return (cached = { ok: true, devices, build, runtimeVersion: probe.runtimeVersion, driverVersion: probe.driverVersion });
}

/**
 * null when `cuda` (or `cuda:N`) can be used, else one line saying why not: what the trainer prints for
 * `--device cuda` where it cannot run.
 */
export function cudaUnavailableReason(device: string = 'cuda'): string | null {
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (!m) return `'${device}' is not a CUDA device name (expected 'cuda' or 'cuda:N')`;
  const a = available();
  if (!a.ok) return a.reason;
  const index = m[1] === undefined ? 0 : Number(m[1]);
  if (index >= a.devices.length)
    return `there is no CUDA device ${index}: this machine has ${a.devices.length} (${a.devices.map((d) => `cuda:${d.index} ${d.name}`).join(', ')})`;
  return null;
}
