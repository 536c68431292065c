/** A labelled set of equally sized uint8 HWC images held in memory (MNIST, CIFAR, a decoded pack). */
export interface ImageSet {
  /** n × height × width × channels bytes. */
  images: Uint8Array;
  labels: Int32Array;
  n: number;
  height: number;
  width: number;
  channels: number;
  /** Class id (folder name, wnid or label name) per label. */
  classes: string[];
  /** Human-readable names per label, where known. */
  classNames?: string[];
}

/** One image file and its label. */
export interface Sample {
  path: string;
  label: number;
}

/** A dataset as a list of files (ImageFolder, ILSVRC). */
export interface FileList {
  /** Class ids (folder names, wnids), sorted; label i is classes[i]. */
  classes: string[];
  /** Human-readable names per class, where known. */
  classNames?: string[];
  samples: Sample[];
  root: string;
}
