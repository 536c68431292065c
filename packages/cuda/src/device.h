// Device memory, copies, streams and events, and the availability probe. Implemented by device_cuda.cpp
// (CUDA runtime, statically linked) and host/device_host.cpp (the emulator: host memory, synchronous).
#pragma once
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "launch.h"

namespace convnet::cuda::dev {

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0;
  int clock_khz = 0;  // peak (boost) SM clock, cudaDevAttrClockRate (cudaDeviceProp has no clockRate in CUDA 13)
  size_t total_memory = 0;
};

struct Probe {
  int runtime_version = 0;  // e.g. 13000
  int driver_version = 0;   // 0: no driver could be loaded
  int error = 0;            // cudaGetDeviceCount's result
  std::string error_name, error_string;
  std::vector<DeviceInfo> devices;
};

// A failed device allocation (the TypeScript allocator frees its cache and retries once).
struct OutOfMemory : std::runtime_error {
  using std::runtime_error::runtime_error;
};

Probe probe();
void set_device(int device);
void* malloc(size_t bytes);
void free(void* p);
void mem_info(size_t* free_bytes, size_t* total_bytes);
void copy_h2d(void* dst, const void* src, size_t bytes, Stream s);
void copy_d2h(void* dst, const void* src, size_t bytes, Stream s);
void copy_d2d(void* dst, const void* src, size_t bytes, Stream s);
void memset_zero(void* dst, size_t bytes, Stream s);
Stream stream_create();
void stream_destroy(Stream s);
void stream_synchronize(Stream s);
void* event_create();
void event_record(void* e, Stream s);
void stream_wait_event(Stream s, void* e);
void event_synchronize(void* e);
void event_destroy(void* e);
void* host_alloc(size_t bytes);  // page-locked where the device has it (copies from it can overlap compute)
void host_free(void* p);

}  // namespace convnet::cuda::dev
