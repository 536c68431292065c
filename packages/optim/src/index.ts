// NOTE FROM THE LEAD: while the helpers were unresponsive, the lead implemented and committed @convnet/layers and @convnet/optim (with tests against PyTorch fixtures); `pnpm test` is
// green. If this was your task: do NOT rewrite or replace these files. Review them, fix real bugs minimally, add what your
// task asks for that is missing, keep every test green, and report exactly what you changed. (The lead removes this note.)
export {
  Optimizer, SGD, Adam, AdamW, biasesWithoutDecay,
  type GroupOptions, type ParamGroup, type ResolvedGroup, type OptimizerState, type SgdOptions, type AdamOptions,
} from './optimizers.js';
export {
  LRScheduler, StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, WarmupCosineLR, ConstantLR,
  ReduceLROnPlateau, type SchedulerState, type PlateauOptions,
} from './schedules.js';
