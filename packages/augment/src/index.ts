export {
  AugmentError, imageU8, checkImage, crop, centerCrop, pad, flipHorizontal, resize, resizeShorter, toFloatCHW,
  normalize, subtractMeanHWC, addPerChannel, cropFloatHWC, type ImageU8,
} from './image.js';
export { lightingDelta, eigSymmetric, checkPca, type Pca, type LightingOptions } from './pca.js';
export {
  Augmenter, allocParams, WORDS_PER_SAMPLE, type AugmentOptions, type AugmentParams, type WordSource,
} from './augmenter.js';
