export { DataError } from './errors.js';
export type { ImageSet, Sample, FileList } from './types.js';
export {
  parseIdx, readIdx, maybeGunzip, idxImageSet, loadMnist, loadFashionMnist, MNIST_CLASSES, FASHION_MNIST_CLASSES,
  DEBIAN_FASHION_MNIST_DIR, MAX_DECOMPRESSED, type Idx, type IdxData,
} from './idx.js';
export { parseCifar, loadCifar, CIFAR10_CLASSES, type CifarOptions } from './cifar.js';
export {
  scanImageFolder, scanIlsvrc, ilsvrcDataDir, findSynsetMapping, parseSynsetMapping, parseLocValSolution,
  parseValGroundTruth, parseDevkitMapping, IMAGE_EXTENSIONS, type FolderOptions, type IlsvrcOptions, type SynsetEntry,
} from './folder.js';
export {
  ILSVRC2012_NUM_CLASSES, ILSVRC2012_WNIDS, ILSVRC2012_NAMES, ILSVRC2012_SHORT_NAMES, ILSVRC2012_DEVKIT_WNIDS,
  isIlsvrc2012Wnid, wnidToIndex, indexToWnid, ilsvrc2012Name, devkitIdToIndex, ilsvrc2012Synsets, ilsvrc2012ClassNames,
} from './ilsvrc2012.js';
export { decodeImage, encodeJpeg, type DecodeOptions } from './decode.js';
export { PixelStats, type DatasetStats } from './stats.js';
export { pack, PACK_FORMAT, PACK_VERSION, type PackOptions, type PackProgress, type PackReport, type PackIndex } from './pack.js';
export type { Skip } from './shard.js';
export { PackedDataset, parsePackIndex, epochOrder, ORDER_STREAM, AUGMENT_STREAM } from './packed.js';
export { Loader, type LoaderOptions, type Batch, type LoaderStats } from './loader.js';
export { writeFileAtomic } from './atomic.js';
