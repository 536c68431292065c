# Sanitizer builds for convnet's addons (@convnet/native exports this file: require('@convnet/native/include').cmake_dir).
#
#   CONVNET_SANITIZE=address,undefined   (environment, read when CMake configures; any -fsanitize= list)
#
# convnet_sanitize(<target>) adds the flags to the target itself (compile and link options), so they apply whatever
# CMAKE_CXX_FLAGS cmake-js passes on its command line (which overrides CMAKE_CXX_FLAGS set any other way), at -O1
# (what the sanitizers' authors recommend; the unrolled conv1 kernels take minutes per file at -O3 under ASan), and defines
# CONVNET_SANITIZE_BUILD, which turns on exact-size scratch buffers (native/src/cpu/workspace.h) so that no rounding
# hides an overrun. Build a sanitized copy beside the release one with `node native/scripts/sanitize.mjs build` and run
# a command against it with `node native/scripts/sanitize.mjs run -- <command>` (see that script).
function(convnet_sanitize target)
  set(list "$ENV{CONVNET_SANITIZE}")
  if(list STREQUAL "")
    return()
  endif()
  if(NOT list MATCHES "^[a-z-]+(,[a-z-]+)*$")
    message(FATAL_ERROR "CONVNET_SANITIZE must be a -fsanitize list such as address,undefined, got '${list}'")
  endif()
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${list} -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1>)
  target_link_options(${target} PRIVATE -fsanitize=${list})
  target_compile_definitions(${target} PRIVATE CONVNET_SANITIZE_BUILD)
  message(STATUS "${target}: built with -fsanitize=${list} (exact-size scratch)")
endfunction()
