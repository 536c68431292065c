# convnet's native kit for addons (kernel packages, @convnet/cuda, @convnet/distributed): one include and one call.
#
#   execute_process(COMMAND node -p "require('@convnet/native/include').cmake_dir"
#     WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} OUTPUT_VARIABLE CONVNET_CMAKE OUTPUT_STRIP_TRAILING_WHITESPACE)
#   include(${CONVNET_CMAKE}/convnet.cmake)
#   convnet_addon(my_kernels SOURCES src/bind.cpp src/silu.cpp src/silu_avx2.cpp src/silu_avx512.cpp)
#
# convnet_addon(<target> SOURCES <file>... [DEFINITIONS <def>...])
#   A Node-API (version 8) addon <target>.node built by cmake-js: C++17, node-addon-api and the Node-API headers
#   (offline: cmake-js's own node-api-headers), convnet's headers (convnet/abi.h, convnet/runtime.h, convnet/kernels/*),
#   hidden visibility, C++ exceptions, and:
#   - per-ISA translation units by file name, as in @convnet/native: *_avx512bf16.cpp, *_avx512.cpp and *_avx2.cpp get
#     that instruction set's flags (x86-64 only; elsewhere they are left out), everything else baseline code; the
#     addon picks at run time (convnet/runtime.h: rt->isa());
#   - CONVNET_SANITIZE (sanitize.cmake): sanitizer flags on the target and exact-size scratch.
#   .cu sources are compiled when convnet_cuda() found a toolkit (call it first).
#
# convnet_cuda(<found-var>)
#   CUDA detection as @convnet/cuda does it: CONVNET_CUDA=auto (default) | on (fail without nvcc) | off;
#   CONVNET_CUDA_ARCHS (default 75;80;86;89;90); static cudart (the addon loads where there is no driver);
#   -Xptxas -v (registers, shared memory and spills of every kernel in the build log). Sets <found-var> to TRUE or FALSE.
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/sanitize.cmake)

get_filename_component(CONVNET_KIT_INCLUDE "${CMAKE_CURRENT_LIST_DIR}/../include" ABSOLUTE)

function(convnet_node_path out expr)
  execute_process(COMMAND node -p "${expr}" WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    OUTPUT_VARIABLE v OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  string(REPLACE "\"" "" v "${v}")
  if(NOT rc EQUAL 0 OR v STREQUAL "")
    message(FATAL_ERROR "convnet kit: node -p \"${expr}\" failed in ${CMAKE_CURRENT_SOURCE_DIR}: install the package's dependencies first")
  endif()
  if(NOT IS_ABSOLUTE "${v}")
    set(v "${CMAKE_CURRENT_SOURCE_DIR}/${v}")
  endif()
  set(${out} "${v}" PARENT_SCOPE)
endfunction()

macro(convnet_cuda found)
  set(${found} FALSE)
  set(_mode "$ENV{CONVNET_CUDA}")
  if(_mode STREQUAL "")
    set(_mode auto)
  endif()
  if(NOT _mode MATCHES "^(auto|on|off)$")
    message(FATAL_ERROR "CONVNET_CUDA must be auto, on or off, got '${_mode}'")
  endif()
  if(NOT _mode STREQUAL "off")
    include(CheckLanguage)
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
      set(_archs "$ENV{CONVNET_CUDA_ARCHS}")
      if(_archs STREQUAL "")
        set(_archs "75;80;86;89;90")
      endif()
      string(REPLACE "," ";" _archs "${_archs}")
      set(CMAKE_CUDA_ARCHITECTURES ${_archs})
      set(CMAKE_CUDA_STANDARD 17)
      set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
      enable_language(CUDA)
      find_package(CUDAToolkit REQUIRED)
      set(${found} TRUE)
      message(STATUS "convnet kit: CUDA ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${_archs}")
    elseif(_mode STREQUAL "on")
      message(FATAL_ERROR "CONVNET_CUDA=on but no CUDA compiler was found: put nvcc on PATH or set CUDACXX")
    else()
      message(STATUS "convnet kit: no CUDA toolkit (nvcc) found; CUDA sources are left out")
    endif()
  endif()
endmacro()

function(convnet_addon target)
  cmake_parse_arguments(A "" "" "SOURCES;DEFINITIONS" ${ARGN})
  if(NOT A_SOURCES)
    message(FATAL_ERROR "convnet_addon(${target}): no SOURCES")
  endif()
  set(CMAKE_CXX_STANDARD 17)
  set(CMAKE_CXX_STANDARD_REQUIRED ON)
  set(x86 FALSE)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64|i.86")
    set(x86 TRUE)
  endif()
  set(sources)
  set(has_cuda FALSE)
  foreach(src ${A_SOURCES})
    get_filename_component(abs "${src}" ABSOLUTE)
    if(abs MATCHES "_avx512bf16\\.cpp$")
      if(x86)
        set_source_files_properties(${abs} PROPERTIES COMPILE_OPTIONS
          "-mavx512f;-mavx512bw;-mavx512dq;-mavx512vl;-mavx512bf16;-mavx2;-mfma;-mf16c")
        list(APPEND sources ${abs})
      endif()
    elseif(abs MATCHES "_avx512\\.cpp$")
      if(x86)
        set_source_files_properties(${abs} PROPERTIES COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512dq;-mavx512vl;-mavx2;-mfma;-mf16c")
        list(APPEND sources ${abs})
      endif()
    elseif(abs MATCHES "_avx2\\.cpp$")
      if(x86)
        set_source_files_properties(${abs} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
        list(APPEND sources ${abs})
      endif()
    elseif(abs MATCHES "\\.cu$")
      if(CMAKE_CUDA_COMPILER)
        list(APPEND sources ${abs})
        set(has_cuda TRUE)
      endif()
    else()
      list(APPEND sources ${abs})
    endif()
  endforeach()
  convnet_node_path(napi_dir "require('node-addon-api').include_dir")
  add_library(${target} SHARED ${sources} ${CMAKE_JS_SRC})
  set_target_properties(${target} PROPERTIES PREFIX "" SUFFIX ".node" CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON
    POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target} PRIVATE ${CMAKE_JS_INC} ${napi_dir} ${CONVNET_KIT_INCLUDE})
  target_compile_definitions(${target} PRIVATE NAPI_VERSION=8 NAPI_CPP_EXCEPTIONS NODE_ADDON_API_DISABLE_DEPRECATED
    ${A_DEFINITIONS})
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wno-unused-parameter -Wno-psabi -fvisibility=hidden>)
  target_link_libraries(${target} ${CMAKE_JS_LIB})
  if(has_cuda)
    set_target_properties(${target} PROPERTIES CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}" CUDA_RUNTIME_LIBRARY Static)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fvisibility=hidden -Xptxas=-v>)
    target_link_libraries(${target} CUDA::cudart_static)
  endif()
  convnet_sanitize(${target})
endfunction()
