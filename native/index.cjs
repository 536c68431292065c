'use strict';
// Loads the addon that `pnpm install` / `npm install` built from source (cmake-js, Node-API 8).
const path = require('node:path');
const fs = require('node:fs');

const candidates = [
  path.join(__dirname, 'build', 'Release', 'convnet_native.node'),
  path.join(__dirname, 'build', 'Debug', 'convnet_native.node'),
];
// CONVNET_NATIVE_PATH loads another build of the addon (e.g. a sanitizer build) for debugging.
if (process.env.CONVNET_NATIVE_PATH) candidates.unshift(path.resolve(process.env.CONVNET_NATIVE_PATH));
const found = candidates.find((p) => fs.existsSync(p));
if (!found) {
  throw new Error(
    `@convnet/native: the compiled addon is missing (looked for ${candidates.join(', ')}). ` +
      `It is built at install time; rebuild it with: cd ${__dirname} && npx cmake-js compile`,
  );
}
module.exports = require(found);
