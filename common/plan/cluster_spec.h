// A cluster the planner plans for (docs/PLANNER.md, deploy/clusters/*.yaml):
// how many devices, how fast each computes and moves bytes, and how fast the
// links inside and between nodes are. Pure data plus a strict YAML reader.
#pragma once

#include <cstdint>
#include <string>

#include "common/base/status.h"

namespace braid::plan {

struct ClusterSpec {
  std::string name;
  std::string device;          // informational, e.g. "NVIDIA H100 SXM5 80GB"
  int nodes = 1;               // >= 1
  int devices_per_node = 1;    // >= 1
  int64_t devices = 0;         // the budget: devices a plan may use, 1..nodes*devices_per_node
  double peak_flops = 0;       // dense bf16 FLOP/s of one device (> 0)
  double memory_bytes = 0;     // memory of one device (> 0)
  double memory_bandwidth = 0; // bytes/s of one device's memory (> 0)
  // Point-to-point bandwidth of one device, one direction, bytes/s (> 0),
  // and latency per message, seconds (>= 0), inside a node and between nodes.
  double intra_node_bandwidth = 0, intra_node_latency = 0;
  double inter_node_bandwidth = 0, inter_node_latency = 0;
  // Achieved / peak when no profile calibrates a module, in (0, 1].
  double compute_efficiency = 0.5;
  double comm_efficiency = 0.8;
  // true for a CPU host whose "devices" are cores that every worker process
  // on the node shares (local-cpu.yaml): the simulator time-shares them.
  bool shared_compute = false;

  int64_t TotalDevices() const { return int64_t(nodes) * devices_per_node; }
};

// YAML (every key required unless marked optional; units in the key names):
//   name: h100-1172
//   device: NVIDIA H100 SXM5 80GB      # optional
//   nodes: 147
//   devices_per_node: 8
//   devices: 1172                      # optional, default nodes * devices_per_node
//   device_spec:
//     peak_bf16_tflops: 989            # dense
//     memory_gib: 80
//     memory_bandwidth_gbs: 3350       # GB/s (1e9 bytes)
//   network:
//     intra_node: {bandwidth_gbs: 450, latency_us: 3}
//     inter_node: {bandwidth_gbs: 50, latency_us: 10}
//   efficiency:                        # optional
//     compute: 0.5
//     communication: 0.8
//   shared_compute: false              # optional
// Unknown keys, wrong types and out-of-range values are InvalidArgument
// "<source>: <field.path>: <problem>"; YAML syntax errors name the line.
StatusOr<ClusterSpec> ParseClusterSpec(const std::string& yaml_text, const std::string& source = "<string>");
StatusOr<ClusterSpec> LoadClusterSpec(const std::string& path);

// The YAML above for `c` (ParseClusterSpec gives `c` back, to float
// rounding of the unit conversions).
std::string ClusterSpecYaml(const ClusterSpec& c);

}  // namespace braid::plan
