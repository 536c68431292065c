'use strict';
// For other addons' build scripts (no addon is loaded): the directory to put on the include path to compile
// against convnet's native ABI (convnet/abi.h: the argument checker and named enums) and the shared per-element
// kernel bodies (convnet/kernels/*.h, CONVNET_HD: host and CUDA device code). In CMake:
//   execute_process(COMMAND node -p "require('@convnet/native/include').include_dir" OUTPUT_VARIABLE ...)
const path = require('node:path');

exports.include_dir = path.join(__dirname, 'include');
exports.include = `"${exports.include_dir}"`;
// The CMake modules other addons include (cmake/sanitize.cmake: convnet_sanitize(target), the CONVNET_SANITIZE switch).
exports.cmake_dir = path.join(__dirname, 'cmake');
