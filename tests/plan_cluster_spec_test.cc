// Cluster specs (common/plan/cluster_spec.h): a full file parses to
// hand-converted SI numbers, optional keys default, the writer round-trips,
// every shipped deploy/clusters/*.yaml loads, and each bad input is an
// InvalidArgument naming the source and the field path.
#include "common/plan/cluster_spec.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "tests/temp_dir.h"

namespace braid::plan {
namespace {

// The header's example, every key present.
const std::string kFull =
    "name: h100-1172\n"
    "device: NVIDIA H100 SXM5 80GB\n"
    "nodes: 147\n"
    "devices_per_node: 8\n"
    "devices: 1172\n"
    "device_spec:\n"
    "  peak_bf16_tflops: 989\n"
    "  memory_gib: 80\n"
    "  memory_bandwidth_gbs: 3350\n"
    "network:\n"
    "  intra_node: {bandwidth_gbs: 450, latency_us: 3}\n"
    "  inter_node: {bandwidth_gbs: 50, latency_us: 10}\n"
    "efficiency:\n"
    "  compute: 0.6\n"
    "  communication: 0.9\n"
    "shared_compute: false\n";

// kFull with the first `from` replaced by `to` (which may be empty: the key
// removed); fails the test when `from` is not there.
std::string Edit(const std::string& from, const std::string& to) {
  std::string s = kFull;
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << "not in kFull: " << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

void ExpectSameSpec(const ClusterSpec& a, const ClusterSpec& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.nodes, b.nodes);
  EXPECT_EQ(a.devices_per_node, b.devices_per_node);
  EXPECT_EQ(a.devices, b.devices);
  EXPECT_DOUBLE_EQ(a.peak_flops, b.peak_flops);
  EXPECT_DOUBLE_EQ(a.memory_bytes, b.memory_bytes);
  EXPECT_DOUBLE_EQ(a.memory_bandwidth, b.memory_bandwidth);
  EXPECT_DOUBLE_EQ(a.intra_node_bandwidth, b.intra_node_bandwidth);
  EXPECT_DOUBLE_EQ(a.intra_node_latency, b.intra_node_latency);
  EXPECT_DOUBLE_EQ(a.inter_node_bandwidth, b.inter_node_bandwidth);
  EXPECT_DOUBLE_EQ(a.inter_node_latency, b.inter_node_latency);
  EXPECT_DOUBLE_EQ(a.compute_efficiency, b.compute_efficiency);
  EXPECT_DOUBLE_EQ(a.comm_efficiency, b.comm_efficiency);
  EXPECT_EQ(a.shared_compute, b.shared_compute);
}

TEST(ClusterSpec, FullSpecParsesToSiUnits) {
  StatusOr<ClusterSpec> c = ParseClusterSpec(kFull, "h.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->name, "h100-1172");
  EXPECT_EQ(c->device, "NVIDIA H100 SXM5 80GB");
  EXPECT_EQ(c->nodes, 147);
  EXPECT_EQ(c->devices_per_node, 8);
  EXPECT_EQ(c->devices, 1172);
  EXPECT_EQ(c->TotalDevices(), 1176);
  EXPECT_DOUBLE_EQ(c->peak_flops, 989e12);
  EXPECT_DOUBLE_EQ(c->memory_bytes, 85899345920.0);  // 80 x 2^30
  EXPECT_DOUBLE_EQ(c->memory_bandwidth, 3.35e12);
  EXPECT_DOUBLE_EQ(c->intra_node_bandwidth, 450e9);
  EXPECT_DOUBLE_EQ(c->intra_node_latency, 3e-6);
  EXPECT_DOUBLE_EQ(c->inter_node_bandwidth, 50e9);
  EXPECT_DOUBLE_EQ(c->inter_node_latency, 10e-6);
  EXPECT_DOUBLE_EQ(c->compute_efficiency, 0.6);
  EXPECT_DOUBLE_EQ(c->comm_efficiency, 0.9);
  EXPECT_FALSE(c->shared_compute);
}

TEST(ClusterSpec, OptionalKeysDefault) {
  const std::string minimal =
      "name: tiny\n"
      "nodes: 2\n"
      "devices_per_node: 4\n"
      "device_spec: {peak_bf16_tflops: 1.5, memory_gib: 0.5, memory_bandwidth_gbs: 20}\n"
      "network:\n"
      "  intra_node: {bandwidth_gbs: 10, latency_us: 0}\n"
      "  inter_node: {bandwidth_gbs: 1, latency_us: 2.5}\n";
  StatusOr<ClusterSpec> c = ParseClusterSpec(minimal);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const ClusterSpec defaults;
  EXPECT_EQ(c->device, "");
  EXPECT_EQ(c->devices, 8);  // nodes x devices_per_node
  EXPECT_DOUBLE_EQ(c->compute_efficiency, defaults.compute_efficiency);
  EXPECT_DOUBLE_EQ(c->comm_efficiency, defaults.comm_efficiency);
  EXPECT_FALSE(c->shared_compute);
  EXPECT_DOUBLE_EQ(c->peak_flops, 1.5e12);
  EXPECT_DOUBLE_EQ(c->memory_bytes, 536870912.0);  // 2^29
  EXPECT_DOUBLE_EQ(c->intra_node_latency, 0.0);
  EXPECT_DOUBLE_EQ(c->inter_node_latency, 2.5e-6);

  // An empty efficiency section keeps both defaults too; one key keeps the other's.
  c = ParseClusterSpec(minimal + "efficiency:\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_DOUBLE_EQ(c->compute_efficiency, defaults.compute_efficiency);
  c = ParseClusterSpec(minimal + "efficiency: {communication: 1}\nshared_compute: true\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_DOUBLE_EQ(c->compute_efficiency, defaults.compute_efficiency);
  EXPECT_DOUBLE_EQ(c->comm_efficiency, 1.0);
  EXPECT_TRUE(c->shared_compute);
}

TEST(ClusterSpec, RoundTripsThroughItsYaml) {
  ClusterSpec c;
  c.name = "odd: \"name\" # \\ with\ttab";  // text YAML would otherwise misread
  c.device = "";
  c.nodes = 3;
  c.devices_per_node = 5;
  c.devices = 13;
  c.peak_flops = 123.456e12;
  c.memory_bytes = 7.25 * 1073741824.0;
  c.memory_bandwidth = 1234.5e9;
  c.intra_node_bandwidth = 77.7e9, c.intra_node_latency = 1.7e-6;
  c.inter_node_bandwidth = 12.5e9, c.inter_node_latency = 0;
  c.compute_efficiency = 0.37, c.comm_efficiency = 1;
  c.shared_compute = true;
  const std::string yaml = ClusterSpecYaml(c);
  EXPECT_EQ(yaml.rfind("# ", 0), 0u) << yaml;  // the header comment comes first
  StatusOr<ClusterSpec> back = ParseClusterSpec(yaml, "written");
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  ExpectSameSpec(*back, c);

  // The writer's text for a parsed file parses to the same spec.
  StatusOr<ClusterSpec> full = ParseClusterSpec(kFull);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  back = ParseClusterSpec(ClusterSpecYaml(*full));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameSpec(*back, *full);
}

TEST(ClusterSpec, EveryShippedClusterLoadsAndRoundTrips) {
  int loaded = 0;
  std::error_code ec;
  std::filesystem::directory_iterator files("deploy/clusters", ec);
  ASSERT_FALSE(ec) << "deploy/clusters: " << ec.message() << " (tests run from the repository root)";
  for (const auto& entry : files) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    StatusOr<ClusterSpec> c = LoadClusterSpec(entry.path().string());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->name + ".yaml", entry.path().filename().string());  // the file is named after the cluster
    StatusOr<ClusterSpec> back = ParseClusterSpec(ClusterSpecYaml(*c));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    ExpectSameSpec(*back, *c);
    ++loaded;
  }
  EXPECT_GE(loaded, 5);
}

TEST(ClusterSpec, ShippedClustersHoldTheirDocumentedNumbers) {
  StatusOr<ClusterSpec> h = LoadClusterSpec("deploy/clusters/h100-1172.yaml");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->nodes, 147);
  EXPECT_EQ(h->devices_per_node, 8);
  EXPECT_EQ(h->devices, 1172);
  EXPECT_DOUBLE_EQ(h->peak_flops, 989e12);
  EXPECT_DOUBLE_EQ(h->memory_bytes, 80.0 * 1073741824.0);
  EXPECT_DOUBLE_EQ(h->memory_bandwidth, 3350e9);
  EXPECT_DOUBLE_EQ(h->intra_node_bandwidth, 450e9);
  EXPECT_DOUBLE_EQ(h->inter_node_bandwidth, 50e9);
  EXPECT_DOUBLE_EQ(h->compute_efficiency, 0.6);
  EXPECT_DOUBLE_EQ(h->comm_efficiency, 0.8);
  EXPECT_FALSE(h->shared_compute);

  StatusOr<ClusterSpec> h256 = LoadClusterSpec("deploy/clusters/h100-256.yaml");
  ASSERT_TRUE(h256.ok()) << h256.status().ToString();
  EXPECT_EQ(h256->devices, 256);
  EXPECT_DOUBLE_EQ(h256->peak_flops, h->peak_flops);

  StatusOr<ClusterSpec> a = LoadClusterSpec("deploy/clusters/a100-1024.yaml");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->devices, 1024);
  EXPECT_DOUBLE_EQ(a->peak_flops, 312e12);
  EXPECT_DOUBLE_EQ(a->memory_bandwidth, 2039e9);
  EXPECT_DOUBLE_EQ(a->intra_node_bandwidth, 300e9);
  EXPECT_DOUBLE_EQ(a->inter_node_bandwidth, 25e9);

  StatusOr<ClusterSpec> a64 = LoadClusterSpec("deploy/clusters/a100-64.yaml");
  ASSERT_TRUE(a64.ok()) << a64.status().ToString();
  EXPECT_EQ(a64->devices, 64);

  StatusOr<ClusterSpec> cpu = LoadClusterSpec("deploy/clusters/local-cpu.yaml");
  ASSERT_TRUE(cpu.ok()) << cpu.status().ToString();
  EXPECT_EQ(cpu->nodes, 1);
  EXPECT_EQ(cpu->devices, 2);
  EXPECT_TRUE(cpu->shared_compute);
  EXPECT_DOUBLE_EQ(cpu->compute_efficiency, 1.0);
  EXPECT_DOUBLE_EQ(cpu->comm_efficiency, 1.0);
}

struct BadCase {
  std::string text;
  std::string expected;  // a substring of the message after "h.yaml: "
};

void ExpectRejected(const BadCase& b) {
  SCOPED_TRACE(b.text);
  StatusOr<ClusterSpec> c = ParseClusterSpec(b.text, "h.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().rfind("h.yaml: ", 0), 0u) << c.status().message();
  EXPECT_NE(c.status().message().find(b.expected), std::string::npos) << c.status().message();
}

TEST(ClusterSpecErrors, MissingKeysAreNamed) {
  for (const BadCase& b : std::vector<BadCase>{
           {Edit("name: h100-1172\n", ""), "name: missing"},
           {Edit("nodes: 147\n", ""), "nodes: missing"},
           {Edit("devices_per_node: 8\n", ""), "devices_per_node: missing"},
           {Edit("  peak_bf16_tflops: 989\n", ""), "device_spec.peak_bf16_tflops: missing"},
           {Edit("  memory_gib: 80\n", ""), "device_spec.memory_gib: missing"},
           {Edit("  memory_bandwidth_gbs: 3350\n", ""), "device_spec.memory_bandwidth_gbs: missing"},
           {Edit("device_spec:\n  peak_bf16_tflops: 989\n  memory_gib: 80\n  memory_bandwidth_gbs: 3350\n", ""),
            "device_spec: missing"},
           {Edit("device_spec:\n  peak_bf16_tflops: 989\n  memory_gib: 80\n  memory_bandwidth_gbs: 3350\n",
                 "device_spec:\n"),
            "device_spec.peak_bf16_tflops: missing"},
           {Edit("  inter_node: {bandwidth_gbs: 50, latency_us: 10}\n", ""), "network.inter_node: missing"},
           {Edit("{bandwidth_gbs: 450, latency_us: 3}", "{bandwidth_gbs: 450}"),
            "network.intra_node.latency_us: missing"},
           {Edit("{bandwidth_gbs: 50, latency_us: 10}", "{latency_us: 10}"),
            "network.inter_node.bandwidth_gbs: missing"},
           {"", "name: missing"},
       }) {
    ExpectRejected(b);
  }
}

TEST(ClusterSpecErrors, UnknownKeysAreNamed) {
  for (const BadCase& b : std::vector<BadCase>{
           {kFull + "colour: blue\n", "colour: unknown key"},
           // A misspelt required key is unknown, not "memory_gib: missing".
           {Edit("memory_gib:", "memory_gb:"), "device_spec.memory_gb: unknown key"},
           {Edit("latency_us: 3}", "latency_us: 3, jitter_us: 1}"), "network.intra_node.jitter_us: unknown key"},
           {Edit("  communication: 0.9\n", "  comms: 0.9\n"), "efficiency.comms: unknown key"},
           {Edit("network:\n", "network:\n  cross_rack: {bandwidth_gbs: 1, latency_us: 1}\n"),
            "network.cross_rack: unknown key"},
           {kFull + "nodes: 3\n", "nodes: duplicate key"},
       }) {
    ExpectRejected(b);
  }
}

TEST(ClusterSpecErrors, WrongTypesAreNamed) {
  for (const BadCase& b : std::vector<BadCase>{
           {Edit("nodes: 147", "nodes: many"), "nodes: expected an integer"},
           {Edit("nodes: 147", "nodes: 1.5"), "nodes: expected an integer"},
           {Edit("devices: 1172", "devices: all"), "devices: expected an integer"},
           {Edit("name: h100-1172", "name: [a, b]"), "name: expected a string"},
           {Edit("peak_bf16_tflops: 989", "peak_bf16_tflops: fast"), "device_spec.peak_bf16_tflops: expected a number"},
           {Edit("peak_bf16_tflops: 989", "peak_bf16_tflops: \"989\""),
            "device_spec.peak_bf16_tflops: expected a number"},
           {Edit("latency_us: 10", "latency_us: inf"), "network.inter_node.latency_us: expected a finite number"},
           {Edit("  compute: 0.6", "  compute: high"), "efficiency.compute: expected a number"},
           {Edit("shared_compute: false", "shared_compute: maybe"), "shared_compute: expected true or false"},
           {Edit("device_spec:\n  peak_bf16_tflops: 989\n  memory_gib: 80\n  memory_bandwidth_gbs: 3350\n",
                 "device_spec: 3\n"),
            "device_spec: expected a mapping"},
           {Edit("{bandwidth_gbs: 450, latency_us: 3}", "[450, 3]"), "network.intra_node: expected a mapping"},
           {"- a\n- b\n", "expected a mapping"},
       }) {
    ExpectRejected(b);
  }
}

TEST(ClusterSpecErrors, OutOfRangeValuesAreNamed) {
  for (const BadCase& b : std::vector<BadCase>{
           {Edit("name: h100-1172", "name: \"\""), "name: must not be empty"},
           {Edit("nodes: 147", "nodes: 0"), "nodes: must be at least 1, got 0"},
           {Edit("devices_per_node: 8", "devices_per_node: -8"), "devices_per_node: must be at least 1, got -8"},
           {Edit("devices: 1172", "devices: 1177"), "devices: must be in 1..1176 (nodes x devices_per_node), got 1177"},
           {Edit("devices: 1172", "devices: 0"), "devices: must be in 1..1176"},
           {Edit("peak_bf16_tflops: 989", "peak_bf16_tflops: 0"), "device_spec.peak_bf16_tflops: must be > 0"},
           {Edit("memory_gib: 80", "memory_gib: -80"), "device_spec.memory_gib: must be > 0, got -80"},
           {Edit("memory_bandwidth_gbs: 3350", "memory_bandwidth_gbs: 0"),
            "device_spec.memory_bandwidth_gbs: must be > 0"},
           {Edit("memory_gib: 80", "memory_gib: 1e300"), "device_spec.memory_gib: "},  // overflows once in bytes
           {Edit("bandwidth_gbs: 450", "bandwidth_gbs: 0"), "network.intra_node.bandwidth_gbs: must be > 0"},
           {Edit("bandwidth_gbs: 50", "bandwidth_gbs: -1"), "network.inter_node.bandwidth_gbs: must be > 0"},
           {Edit("latency_us: 10", "latency_us: -0.5"), "network.inter_node.latency_us: must be >= 0"},
           {Edit("  compute: 0.6", "  compute: 0"), "efficiency.compute: must be in (0, 1], got 0"},
           {Edit("  communication: 0.9", "  communication: 1.5"), "efficiency.communication: must be in (0, 1]"},
       }) {
    ExpectRejected(b);
  }
  // The bounds themselves are fine.
  EXPECT_TRUE(ParseClusterSpec(Edit("devices: 1172", "devices: 1176")).ok());
  EXPECT_TRUE(ParseClusterSpec(Edit("devices: 1172", "devices: 1")).ok());
  EXPECT_TRUE(ParseClusterSpec(Edit("latency_us: 10", "latency_us: 0")).ok());
  EXPECT_TRUE(ParseClusterSpec(Edit("  compute: 0.6", "  compute: 1")).ok());
}

TEST(ClusterSpecErrors, MalformedYamlNamesTheLine) {
  StatusOr<ClusterSpec> c = ParseClusterSpec("name: x\nnodes: [1,\n", "h.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message().rfind("h.yaml:", 0), 0u) << c.status().message();
  EXPECT_NE(c.status().message().find(":3:"), std::string::npos) << c.status().message();  // the unclosed sequence
}

class ClusterSpecFiles : public ::testing::Test {
 protected:
  ClusterSpecFiles() : dir_("braid_cluster_") {}
  std::string Write(const std::string& text) {
    const std::string p = dir_.path() + "/c.yaml";
    std::ofstream(p) << text;
    return p;
  }
  testing_util::ScopedTempDir dir_;
};

TEST_F(ClusterSpecFiles, LoadsAFile) {
  StatusOr<ClusterSpec> c = LoadClusterSpec(Write(kFull));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  StatusOr<ClusterSpec> parsed = ParseClusterSpec(kFull);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ExpectSameSpec(*c, *parsed);
}

TEST_F(ClusterSpecFiles, ErrorsNameTheFile) {
  const std::string path = Write(Edit("  peak_bf16_tflops: 989\n", ""));
  Status s = LoadClusterSpec(path).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), path + ": device_spec.peak_bf16_tflops: missing");

  s = LoadClusterSpec(Write("name: x\nnodes: [1,\n")).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().rfind(path + ":3:", 0), 0u) << s.message();

  s = LoadClusterSpec(dir_.path() + "/none.yaml").status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), dir_.path() + "/none.yaml: cannot open");
}

}  // namespace
}  // namespace braid::plan
