#include "common/plan/cluster_spec.h"

#include <cmath>
#include <cstdio>
#include <initializer_list>

#include "common/config/yaml_fields.h"

namespace braid::plan {
namespace {

// File units (named in the keys) to the SI units ClusterSpec holds.
constexpr double kTeraFlops = 1e12;
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kGigabytesPerSecond = 1e9;
constexpr double kMicrosecondsPerSecond = 1e6;

Status Bad(const std::string& path, const std::string& problem) {
  return Status::InvalidArgument(path + ": " + problem);
}

// Opens the mapping at `path` and rejects keys outside `known` before any
// value is read, so a misspelt key reads as "unknown key" rather than as the
// required key it was meant to be ("missing").
StatusOr<YamlFields> OpenKnown(const YAML::Node& node, const std::string& path,
                               std::initializer_list<const char*> known) {
  ASSIGN_OR_RETURN(YamlFields f, YamlFields::Open(node, path));
  for (const char* key : known) f.Raw(key);
  RETURN_IF_ERROR(f.Finish());
  return f;
}

// A required key: absent is "PATH: missing" (its value is read by the caller).
Status Require(YamlFields& f, const std::string& key) {
  return f.Raw(key).IsDefined() ? Status::Ok() : Bad(f.PathOf(key), "missing");
}

// A required count of at least 1 (nodes, devices_per_node).
Status ReadCount(YamlFields& f, const std::string& key, int* out) {
  RETURN_IF_ERROR(Require(f, key));
  RETURN_IF_ERROR(f.Int(key, out));
  if (*out < 1) return Bad(f.PathOf(key), "must be at least 1, got " + std::to_string(*out));
  return Status::Ok();
}

enum class Bound { kPositive, kNonNegative };

// From file units to SI: value * scale / divisor. Dividing by an exact power
// of ten keeps "latency_us: 3" the double 3e-6 (multiplying by 1e-6 would not).
struct Unit {
  double scale = 1, divisor = 1;
};

// A required number within `bound`, in file units; *out gets it in SI units.
Status ReadAmount(YamlFields& f, const std::string& key, Bound bound, Unit unit, double* out) {
  RETURN_IF_ERROR(Require(f, key));
  double v = 0;
  RETURN_IF_ERROR(f.Double(key, &v));
  const bool zero_ok = bound == Bound::kNonNegative;
  if (zero_ok ? !(v >= 0) : !(v > 0)) {
    return Bad(f.PathOf(key), std::string("must be ") + (zero_ok ? ">= 0" : "> 0") + ", got " + FormatDouble(v));
  }
  *out = v * unit.scale / unit.divisor;
  if (!std::isfinite(*out)) return Bad(f.PathOf(key), FormatDouble(v) + " is out of range");
  return Status::Ok();
}

// An optional efficiency in (0, 1]; absent keeps the default.
Status ReadFraction(YamlFields& f, const std::string& key, double* out) {
  RETURN_IF_ERROR(f.Double(key, out));
  if (!(*out > 0 && *out <= 1)) return Bad(f.PathOf(key), "must be in (0, 1], got " + FormatDouble(*out));
  return Status::Ok();
}

Status ReadIdentity(YamlFields& root, ClusterSpec* c) {
  RETURN_IF_ERROR(Require(root, "name"));
  RETURN_IF_ERROR(root.String("name", &c->name));
  if (c->name.empty()) return Bad("name", "must not be empty");
  return root.String("device", &c->device);
}

// nodes, devices_per_node and the optional budget `devices` within them.
Status ReadShape(YamlFields& root, ClusterSpec* c) {
  RETURN_IF_ERROR(ReadCount(root, "nodes", &c->nodes));
  RETURN_IF_ERROR(ReadCount(root, "devices_per_node", &c->devices_per_node));
  c->devices = c->TotalDevices();
  RETURN_IF_ERROR(root.Int64("devices", &c->devices));
  if (c->devices < 1 || c->devices > c->TotalDevices()) {
    return Bad("devices", "must be in 1.." + std::to_string(c->TotalDevices()) + " (nodes x devices_per_node), got " +
                              std::to_string(c->devices));
  }
  return Status::Ok();
}

Status ReadDevice(YamlFields& root, ClusterSpec* c) {
  RETURN_IF_ERROR(Require(root, "device_spec"));
  ASSIGN_OR_RETURN(YamlFields f, OpenKnown(root.Raw("device_spec"), "device_spec",
                                           {"peak_bf16_tflops", "memory_gib", "memory_bandwidth_gbs"}));
  RETURN_IF_ERROR(ReadAmount(f, "peak_bf16_tflops", Bound::kPositive, {kTeraFlops, 1}, &c->peak_flops));
  RETURN_IF_ERROR(ReadAmount(f, "memory_gib", Bound::kPositive, {kGiB, 1}, &c->memory_bytes));
  return ReadAmount(f, "memory_bandwidth_gbs", Bound::kPositive, {kGigabytesPerSecond, 1}, &c->memory_bandwidth);
}

Status ReadLink(YamlFields& network, const std::string& key, double* bandwidth, double* latency) {
  RETURN_IF_ERROR(Require(network, key));
  ASSIGN_OR_RETURN(YamlFields f, OpenKnown(network.Raw(key), network.PathOf(key), {"bandwidth_gbs", "latency_us"}));
  RETURN_IF_ERROR(ReadAmount(f, "bandwidth_gbs", Bound::kPositive, {kGigabytesPerSecond, 1}, bandwidth));
  return ReadAmount(f, "latency_us", Bound::kNonNegative, {1, kMicrosecondsPerSecond}, latency);
}

Status ReadNetwork(YamlFields& root, ClusterSpec* c) {
  RETURN_IF_ERROR(Require(root, "network"));
  ASSIGN_OR_RETURN(YamlFields f, OpenKnown(root.Raw("network"), "network", {"intra_node", "inter_node"}));
  RETURN_IF_ERROR(ReadLink(f, "intra_node", &c->intra_node_bandwidth, &c->intra_node_latency));
  return ReadLink(f, "inter_node", &c->inter_node_bandwidth, &c->inter_node_latency);
}

Status ReadEfficiency(YamlFields& root, ClusterSpec* c) {
  ASSIGN_OR_RETURN(YamlFields f, OpenKnown(root.Raw("efficiency"), "efficiency", {"compute", "communication"}));
  RETURN_IF_ERROR(ReadFraction(f, "compute", &c->compute_efficiency));
  return ReadFraction(f, "communication", &c->comm_efficiency);
}

// The whole document, in file order; errors carry the field path only.
StatusOr<ClusterSpec> FromYaml(const YAML::Node& doc) {
  ASSIGN_OR_RETURN(YamlFields root, OpenKnown(doc, "",
                                              {"name", "device", "nodes", "devices_per_node", "devices", "device_spec",
                                               "network", "efficiency", "shared_compute"}));
  ClusterSpec c;
  RETURN_IF_ERROR(ReadIdentity(root, &c));
  RETURN_IF_ERROR(ReadShape(root, &c));
  RETURN_IF_ERROR(ReadDevice(root, &c));
  RETURN_IF_ERROR(ReadNetwork(root, &c));
  RETURN_IF_ERROR(ReadEfficiency(root, &c));
  RETURN_IF_ERROR(root.Bool("shared_compute", &c.shared_compute));
  return c;
}

// FromYaml with "<source>: " in front of its errors.
StatusOr<ClusterSpec> FromYamlIn(const YAML::Node& doc, const std::string& source) {
  StatusOr<ClusterSpec> c = FromYaml(doc);
  if (!c.ok()) return Status(c.status().code(), source + ": " + c.status().message());
  return c;
}

// A YAML double-quoted scalar: any name or device text reads back unchanged.
std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", static_cast<unsigned char>(ch));
      out += esc;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string LinkYaml(double bandwidth, double latency) {
  return "{bandwidth_gbs: " + FormatDouble(bandwidth / kGigabytesPerSecond) +
         ", latency_us: " + FormatDouble(latency * kMicrosecondsPerSecond) + "}";
}

}  // namespace

StatusOr<ClusterSpec> ParseClusterSpec(const std::string& yaml_text, const std::string& source) {
  ASSIGN_OR_RETURN(YAML::Node doc, ParseYaml(yaml_text, source));
  return FromYamlIn(doc, source);
}

StatusOr<ClusterSpec> LoadClusterSpec(const std::string& path) {
  ASSIGN_OR_RETURN(YAML::Node doc, LoadYamlFile(path));  // its errors already name the file
  return FromYamlIn(doc, path);
}

std::string ClusterSpecYaml(const ClusterSpec& c) {
  // FormatDouble writes the shortest text that reads back to the same double,
  // so only the unit conversions round.
  std::string y = "# braid cluster spec (docs/PLANNER.md \"Cluster spec\"); units are in the key names.\n";
  y += "name: " + Quoted(c.name) + "\n";
  y += "device: " + Quoted(c.device) + "\n";
  y += "nodes: " + std::to_string(c.nodes) + "\n";
  y += "devices_per_node: " + std::to_string(c.devices_per_node) + "\n";
  y += "devices: " + std::to_string(c.devices) + "\n";
  y += "device_spec:\n";
  y += "  peak_bf16_tflops: " + FormatDouble(c.peak_flops / kTeraFlops) + "\n";
  y += "  memory_gib: " + FormatDouble(c.memory_bytes / kGiB) + "\n";
  y += "  memory_bandwidth_gbs: " + FormatDouble(c.memory_bandwidth / kGigabytesPerSecond) + "\n";
  y += "network:\n";
  y += "  intra_node: " + LinkYaml(c.intra_node_bandwidth, c.intra_node_latency) + "\n";
  y += "  inter_node: " + LinkYaml(c.inter_node_bandwidth, c.inter_node_latency) + "\n";
  y += "efficiency:\n";
  y += "  compute: " + FormatDouble(c.compute_efficiency) + "\n";
  y += "  communication: " + FormatDouble(c.comm_efficiency) + "\n";
  y += std::string("shared_compute: ") + (c.shared_compute ? "true" : "false") + "\n";
  return y;
}

}  // namespace braid::plan
