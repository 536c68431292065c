export * from './specs.js';
export { Net, createModel, type BuildOptions } from './build.js';
