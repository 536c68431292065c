export {
  Optimizer, SGD, Adam, AdamW, biasesWithoutDecay,
  type GroupOptions, type ParamGroup, type ResolvedGroup, type OptimizerState, type SgdOptions, type AdamOptions,
} from './optimizers.js';
export {
  LRScheduler, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, WarmupCosineLR, ConstantLR, SequentialLR,
  ReduceLROnPlateau, type SchedulerState, type PlateauOptions,
} from './schedules.js';
