export * from './config.js';
export * from './report.js';
export * from './progress.js';
