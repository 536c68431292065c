'use strict';
// @convnet/native: the addon from, in order, $CONVNET_NATIVE_PATH (another build, e.g. a sanitizer build), this
// package's source build (build/Release, made by the install script where no prebuilt binary loads), or the
// prebuilt package for this platform (@convnet/native-linux-x64-gnu, ...). See loader.cjs.
const { loadAddon } = require('./loader.cjs');

module.exports = loadAddon({
  name: '@convnet/native',
  root: __dirname,
  file: 'convnet_native.node',
  envPath: 'CONVNET_NATIVE_PATH',
});
