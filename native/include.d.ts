/** The directory holding convnet's native headers (convnet/abi.h, convnet/kernels/*.h), for other addons' builds. */
export declare const include_dir: string;
/** include_dir in double quotes, for a compiler command line (as node-addon-api's `include`). */
export declare const include: string;
/** The directory of convnet's CMake modules (sanitize.cmake: `convnet_sanitize(target)`), for other addons' builds. */
export declare const cmake_dir: string;
