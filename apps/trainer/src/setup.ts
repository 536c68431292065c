/**
 * Setting a run up: the input geometry a model needs from the data, the model itself (with one-line errors when
 * they do not fit), and the kernel backend of --device.
 */
import { listBackends, registerBackend } from '@convnet/tensor';
import { createModel, modelSpec, type Net } from '@convnet/alexnet';
import { UsageError, type TrainConfig } from './config.js';
import { pluginsOnBackend } from './plugins.js';
import type { Geometry } from './source.js';
import { localDeviceIndex } from './distributed.js';

/** What the model checks need to know about a dataset. */
export interface DataInfo {
  name: string;
  classes: string[];
  /** Stored image size [c, h, w]. */
  shape: [number, number, number];
}

export function inputGeometry(cfg: TrainConfig, shape: [number, number, number], name: string): Geometry {
  const size = shape[1];
  let want: number[];
  try {
    want = modelSpec(cfg.model, { channels: shape[0], imageSize: cfg.crop || size }).input;
  } catch (e) {
    throw new UsageError(`--model: ${(e as Error).message}`);
  }
  if (want[0] !== shape[0] || want[1] > size + 2 * cfg.cropPadding)
    throw new UsageError(`--model ${cfg.model} expects ${want.join('×')} inputs; ${name} has ${shape.join('×')} images (use --data with larger images, or a small net: small, cifar-18pct, cifar-80sec)`);
  const crop = cfg.crop || size;
  if (crop > size + 2 * cfg.cropPadding)
    throw new UsageError(`--crop ${crop} is larger than the images (${size}) plus padding (${cfg.cropPadding})`);
  return { crop, pad: cfg.cropPadding };
}

export function buildModel(cfg: TrainConfig, ds: DataInfo, crop: number): Net {
  const opts = { numClasses: ds.classes.length, channels: ds.shape[0], imageSize: crop, seed: cfg.seed, backend: cfg.backend };
  let want: number[];
  try {
    want = modelSpec(cfg.model, opts).input;
  } catch (e) {
    throw new UsageError(`--model: ${(e as Error).message}`);
  }
  if (want[0] !== ds.shape[0] || want[1] !== crop)
    throw new UsageError(`--model ${cfg.model} expects ${want.join('×')} inputs; ${ds.name} gives ${ds.shape[0]}×${crop}×${crop} (use --data with ${want[1]}-pixel images or a small net)`);
  try {
    const net = createModel(cfg.model, opts);
    net.outputShape([1, ds.shape[0], crop, crop]);
    return net;
  } catch (e) {
    throw new UsageError(`--model ${cfg.model} does not fit ${ds.shape[0]}×${crop}×${crop} inputs of ${ds.name}: ${(e as Error).message}`);
  }
}

/**
 * Registers the kernel backend of --device cuda / cuda:N (or cuda-host, the CUDA kernels on the host emulator,
 * for testing) and returns its name; a one-line error says why when the device cannot be used.
 */
export async function deviceBackend(device: string): Promise<string> {
  if (!/^cuda(:\d+|-host)?$/.test(device)) throw new UsageError(`--device: expected cpu, cuda or cuda:N, got '${device}'`);
  let cuda: typeof import('@convnet/cuda');
  try {
    cuda = await import('@convnet/cuda');
  } catch (e) {
    throw new UsageError(`--device ${device}: @convnet/cuda cannot be loaded (${(e as Error).message.split('\n')[0]}); install it, or use --device cpu`);
  }
  if (listBackends().includes(device)) return device;
  if (device === 'cuda-host') {
    registerBackend(cuda.createCudaBackend({ emulator: true, name: 'cuda-host' }));
    pluginsOnBackend(device);
    return device;
  }
  const reason = cuda.cudaUnavailableReason(device);
  if (reason) throw new UsageError(`--device ${device}: ${reason}; use --device cpu`);
  // `cuda` under mpirun: the local rank's device (localDeviceIndex); `cuda:N`: device N
  const a = cuda.available();
  const index = device === 'cuda' ? localDeviceIndex(a.ok ? a.devices.length : 1) : Number(device.split(':')[1]);
  registerBackend(cuda.createCudaBackend({ device: index, name: device }));
  pluginsOnBackend(device);
  return device;
}
