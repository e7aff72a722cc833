#include "services/orchestrator/device_match.h"

namespace braid::orchestrator {

std::string NormalizeDevice(const std::string& device) { return device.empty() ? "cpu" : device; }

Status ValidateWorkerDevice(const std::string& device, int device_index) {
  const std::string d = NormalizeDevice(device);
  if (d != "cpu" && d != "cuda")
    return Status::InvalidArgument("capabilities.device: must be cpu or cuda, got '" + device + "'");
  if (device_index < 0)
    return Status::InvalidArgument("capabilities.device_index: must be non-negative, got " +
                                   std::to_string(device_index));
  return Status::Ok();
}

Status CheckDeviceAvailable(const std::string& device, Role role, int on_device, int elsewhere) {
  if (on_device > 0 || elsewhere == 0) return Status::Ok();
  const std::string module = RoleName(role);
  const std::string other = device == "cpu" ? "cuda" : "cpu";
  return Status::FailedPrecondition("device: " + device + ": the " + module + " module needs " + device +
                                    " workers and none is registered (" + std::to_string(elsewhere) + " " +
                                    module + (elsewhere == 1 ? " worker" : " workers") + " on " + other +
                                    "); start the " + module + " pool with `device: " + device +
                                    "` (worker flag --device " + device + ")");
}

}  // namespace braid::orchestrator
