export * from './specs.js';
