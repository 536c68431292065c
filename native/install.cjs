'use strict';
// npm/pnpm install script: use the prebuilt package when it loads, else compile with cmake-js (see loader.cjs).
process.exitCode = require('./loader.cjs').install({ name: '@convnet/native', root: __dirname, file: 'convnet_native.node' });
