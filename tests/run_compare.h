// Reading a finished run back for comparisons between runs: its per-step
// losses, its checkpointed parameters, and the distance between parameters.
#pragma once

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/checkpoint/checkpoint.h"
#include "common/config/job_config.h"
#include "common/nn/dit_generator.h"
#include "common/nn/llm.h"
#include "common/nn/vit_encoder.h"

namespace braid::testing_util {

// The "loss" of every metrics.jsonl line of a run directory.
inline std::vector<double> RunLosses(const std::string& run_dir) {
  std::vector<double> v;
  std::ifstream in(run_dir + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) v.push_back(nlohmann::json::parse(line)["loss"].get<double>());
  return v;
}

// Flat parameters of each module ("encoder", "llm", "generator") from the
// run's checkpoints/step-<step>.
inline std::map<std::string, std::vector<float>> CheckpointParams(const JobConfig& cfg, const std::string& run_dir,
                                                                  int64_t step) {
  nn::VitEncoder enc(cfg.model.encoder, cfg.model.llm.width);
  nn::Llm llm(cfg.model.llm);
  nn::DitGenerator gen(cfg.model.generator, cfg.model.llm.width);
  auto s = LoadCheckpoint(run_dir + "/checkpoints/step-" + std::to_string(step),
                          {{"encoder", &enc.params(), nullptr},
                           {"llm", &llm.params(), nullptr},
                           {"generator", &gen.params(), nullptr}});
  EXPECT_TRUE(s.ok()) << run_dir << ": " << s.status().ToString();
  return {{"encoder", enc.params().params()}, {"llm", llm.params().params()}, {"generator", gen.params().params()}};
}

// ||a - b|| / ||b|| (huge when the sizes differ).
inline double L2RelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e30;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

}  // namespace braid::testing_util
