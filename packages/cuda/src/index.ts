export { available, cudaUnavailableReason, fp32LanesPerSM, reasonFromProbe, cudaVersionString, type Availability, type CudaDeviceInfo } from './availability.js';
export { loadAddon, type BuildInfo, type Probe, type ProbeDevice, type CudaAddon } from './addon.js';
export { CachingAllocator, CudaOutOfMemoryError, roundSize, type AllocatorStats, type AllocatorOptions, type Block, type DeviceMemory } from './allocator.js';
export { CudaDevice, type DeviceOptions, type TransferStats } from './device.js';
export { CudaTensor } from './tensor.js';
export { createCudaBackend, type Call, type CudaBackendOptions } from './backend.js';
export { augmentBatch, type DeviceAugmentOptions, type DeviceAugmentParams } from './augment.js';

import { loadAddon } from './addon.js';
import type { BuildInfo } from './addon.js';

/** How the installed addon was built (kind 'cuda' with its architectures, or 'stub' and why). */
export function buildInfo(): BuildInfo | { kind: 'missing'; error: string } {
  const l = loadAddon('cuda');
  return l.addon ? l.addon.info() : { kind: 'missing', error: l.error };
}
