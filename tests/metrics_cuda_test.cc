// A process that links the CUDA runtime still serves /metrics. glibc carves
// every thread's static TLS out of that thread's stack; OpenBLAS's (60 KiB)
// plus cudart's (8 KiB) overflowed civetweb's fixed 100 KiB thread stacks
// on the first scrape (SIGSEGV), and with cuBLASLt's (92 KiB) civetweb could
// not start at all (common/metrics/metrics_http.h). Built twice: with
// braid_gpu (cudart) and with braid_ops_cuda (cudart + cuBLASLt), both with
// OpenBLAS, as a CUDA worker links them. Runs without a GPU.
#include <link.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "common/gpu/device.h"
#include "common/metrics/metrics_server.h"
#include "common/ops/cpu/matmul.h"
#include "tests/http_get.h"
#if BRAID_HAVE_CUDA
#include "common/ops/cuda/context.h"
#endif

namespace braid {
namespace {

// The static TLS every thread of this process carries: the PT_TLS sizes of
// the objects loaded at start (the executable with cudart, OpenBLAS, ...).
size_t StaticTlsBytes() {
  size_t total = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        for (int i = 0; i < info->dlpi_phnum; ++i)
          if (info->dlpi_phdr[i].p_type == PT_TLS) *static_cast<size_t*>(out) += info->dlpi_phdr[i].p_memsz;
        return 0;
      },
      &total);
  return total;
}

// One name per binary, so that ctest tells the two apart.
#if BRAID_HAVE_CUDA
#define BRAID_METRICS_CUDA_CASE ScrapesWithCudartAndCublasLtLinked
#else
#define BRAID_METRICS_CUDA_CASE ScrapesWithCudartLinked
#endif

TEST(MetricsCudaTest, BRAID_METRICS_CUDA_CASE) {
  // Keeps cudart linked in; with no device it answers why.
  const StatusOr<int> devices = gpu::DeviceCount();
  const std::string why = devices.ok() ? std::to_string(*devices) : devices.status().message();
  std::printf("cuda devices: %s\n", why.c_str());
#if BRAID_HAVE_CUDA
  EXPECT_EQ(cuda::Current(), nullptr);  // keeps braid_ops_cuda (cuBLASLt) linked: no context set here
#endif
  // Keeps OpenBLAS linked: out = inp @ weight^T.
  const float inp[2] = {1, 2}, weight[2] = {3, 4};
  float out = 0;
  ops::matmul_forward<float>(&out, inp, weight, nullptr, 1, 2, 1);
  EXPECT_EQ(out, 11.0f);
  const size_t tls = StaticTlsBytes();
  std::printf("static TLS of this process: %zu bytes\n", tls);
  EXPECT_GT(tls, size_t(64) << 10) << "the libraries this test is about are not all loaded";

  StatusOr<std::unique_ptr<MetricsServer>> m = MetricsServer::Start("127.0.0.1:0", "llm-worker");
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_GT((*m)->bound_port(), 0);
  const std::string addr = "127.0.0.1:" + std::to_string((*m)->bound_port());
  for (int i = 0; i < 5; ++i) {
    const std::string page = testing_util::HttpGetMetrics(addr);
    EXPECT_EQ(page.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << page;
    EXPECT_NE(page.find(R"(braid_up{role="llm-worker"} 1)"), std::string::npos) << page;
    EXPECT_NE(page.find("process_resident_memory_bytes"), std::string::npos) << page;
  }
}

}  // namespace
}  // namespace braid
