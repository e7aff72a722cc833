// `braid profile JOB.yaml`: measures the reorderer's cost coefficients for
// the job's model on this machine's backend (the real kernels: the job's
// encoder, LLM and generator, forward and backward) and writes a profile
// YAML that `data.reorder_profile` and `braid reorder --profile` read.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <vector>

#include "cli/commands.h"
#include "cli/profile_machine.h"
#include "common/base/clock.h"
#include "common/base/rng.h"
#include "common/base/threads.h"
#include "common/config/job_config.h"
#include "common/nn/dit_generator.h"
#include "common/nn/llm.h"
#include "common/nn/vit_encoder.h"
#include "common/reorder/cost_profile.h"

namespace braid::cli {
namespace {

struct ProfileArgs {
  std::string job, out;
  int threads = 0;
  int repeats = 3;
  bool machine = false;
};

// The middle value (the mean of the two middle ones for an even count).
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Median of `repeats` runs of fwd() then bwd() (after one warm-up), in
// seconds: {forward, backward}. The median, not the fastest: the runtime's
// step time is compared at its median (docs/PLANNER.md), and on a shared or
// noisy host the fastest run is the exception.
template <typename F, typename B>
std::pair<double, double> Time(int repeats, F fwd, B bwd) {
  std::vector<double> fs, bs;
  for (int r = 0; r <= repeats; ++r) {
    const double t0 = NowSeconds();
    fwd();
    const double t1 = NowSeconds();
    bwd();
    const double t2 = NowSeconds();
    if (r == 0) continue;  // warm-up
    fs.push_back(t1 - t0);
    bs.push_back(t2 - t1);
  }
  return {Median(fs), Median(bs)};
}

// One measurement of every module on the current thread count: the cost
// coefficients and each module's total forward + backward seconds.
struct Measurement {
  reorder::CostModel cost;
  double module_seconds[3] = {0, 0, 0};
};

Measurement Measure(const JobConfig& cfg, int repeats) {
  const ModelConfig& m = cfg.model;
  std::fprintf(stderr, "-- %d thread%s\n", ComputeThreads(), ComputeThreads() == 1 ? "" : "s");
  Measurement out;
  reorder::CostModel& c = out.cost;
  const int64_t C = m.llm.width;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  double fwd_total = 0, bwd_total = 0;

  {  // Encoder: every image has the same P tokens, so one size gives the per-image cost.
    nn::VitEncoder enc(m.encoder, C);
    enc.Init(ModuleInitKey(cfg.seed, 1));
    const int64_t n = 16, pix = int64_t(m.encoder.image_size) * m.encoder.image_size * m.encoder.channels;
    const int64_t g = m.encoder.image_size / m.encoder.patch, P = g * g;
    std::vector<float> images(size_t(n * pix));
    for (float& x : images) x = unit(rng);
    Tensor emb;
    std::vector<float> demb(size_t(n * P * C), 1e-3f);
    auto [f, b] = Time(repeats, [&] { enc.Forward(images.data(), n, &emb); }, [&] { enc.Backward(demb.data()); });
    c.enc_linear = f / double(n) / double(P);
    fwd_total += f, bwd_total += b;
    out.module_seconds[0] += f + b;
    std::fprintf(stderr, "encoder: %.3g s per image (%lld tokens) forward, %.3g backward\n", f / double(n),
                 (long long)P, b / double(n));
  }
  {  // LLM: packed sequences of several lengths, fitted to a*T + b*T^2.
    nn::Llm llm(m.llm);
    llm.Init(ModuleInitKey(cfg.seed, 2));
    std::vector<std::pair<double, double>> points;
    for (int64_t T = 16; T <= m.llm.max_seq; T *= 2) {
      const int64_t k = std::max<int64_t>(1, 2048 / T);
      nn::LlmBatch batch;
      for (int64_t s = 0; s < k; ++s) {
        std::vector<int32_t> tokens(static_cast<size_t>(T)), targets(static_cast<size_t>(T));
        for (auto& t : tokens) t = int32_t(rng() % 256);
        for (int64_t i = 0; i < T; ++i) targets[size_t(i)] = i + 1 < T ? tokens[size_t(i + 1)] : -1;
        batch.Append(tokens, &targets);
      }
      Tensor gen_hidden, dimg;
      int64_t count = 0;
      double loss_sum = 0;  // the profile runs on the host
      auto [f, b] = Time(
          repeats, [&] { llm.Forward(batch, nullptr, &gen_hidden, &loss_sum, &count); },
          [&] { llm.Backward(1.0f / float(batch.size()), nullptr, &dimg); });
      points.push_back({double(T), f / double(k)});
      fwd_total += f, bwd_total += b;
      out.module_seconds[1] += f + b;
      std::fprintf(stderr, "llm: T=%lld  %.3g s per sequence forward, %.3g backward\n", (long long)T, f / double(k),
                   b / double(k));
    }
    std::tie(c.llm_linear, c.llm_attn) = reorder::FitLinearQuadratic(points);
  }
  {  // Generator: a constant per target.
    nn::DitGenerator gen(m.generator, C);
    gen.Init(ModuleInitKey(cfg.seed, 3));
    const int64_t n = 16, pix = gen.pixels(), K = m.generator.gen_slots;
    std::vector<float> cond(size_t(n * K * C)), images(size_t(n * pix));
    for (float& x : cond) x = unit(rng) - 0.5f;
    for (float& x : images) x = unit(rng);
    std::vector<uint64_t> keys(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) keys[size_t(i)] = GenerationKey(cfg.seed, 0, i, 0);
    Tensor dcond;
    double loss_sum = 0;
    auto [f, b] = Time(repeats, [&] { gen.Forward(cond.data(), images.data(), keys.data(), n, &loss_sum); },
                       [&] { gen.Backward(1.0f / float(n), &dcond); });
    c.gen_target = f / double(n);
    fwd_total += f, bwd_total += b;
    out.module_seconds[2] += f + b;
    std::fprintf(stderr, "generator: %.3g s per target forward, %.3g backward\n", f / double(n), b / double(n));
  }
  c.backward_ratio = fwd_total > 0 ? bwd_total / fwd_total : 2.0;
  return out;
}

int RunProfile(const ProfileArgs& a) {
  StatusOr<JobConfig> cfg = LoadJobConfig(a.job);
  if (!cfg.ok()) {
    std::fprintf(stderr, "braid profile: %s\n", cfg.status().message().c_str());
    return kExitBadInput;
  }
  // Costs on one thread; then, if more are asked for, each module's speedup
  // on them (what a worker with `threads` compute threads gains).
  SetComputeThreads(1);
  reorder::CostProfile p;
  const Measurement one = Measure(*cfg, a.repeats);
  p.cost = one.cost;
  SetComputeThreads(a.threads);
  p.threads = ComputeThreads();
  if (p.threads > 1) {
    const Measurement many = Measure(*cfg, a.repeats);
    for (int m = 0; m < 3; ++m)
      p.speedup[m] = many.module_seconds[m] > 0 ? one.module_seconds[m] / many.module_seconds[m] : 1.0;
    std::fprintf(stderr, "speedup on %d threads: encoder %.2f, llm %.2f, generator %.2f\n", p.threads, p.speedup[0],
                 p.speedup[1], p.speedup[2]);
  }
  const std::string yaml = reorder::CostProfileYaml(p, "cpu", cfg->name);
  if (a.out.empty() || a.out == "-") {
    std::fputs(yaml.c_str(), stdout);
  } else {
    std::ofstream out(a.out);
    out << yaml;
    if (!out) {
      std::fprintf(stderr, "braid profile: cannot write %s\n", a.out.c_str());
      return kExitRuntime;
    }
    std::fprintf(stderr, "wrote %s\n", a.out.c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterProfile(CLI::App& app, std::function<int()>* run) {
  auto a = std::make_shared<ProfileArgs>();
  CLI::App* cmd = app.add_subcommand(
      "profile",
      "Measure the reorderer's cost coefficients for a job's model on this machine (encoder per image, LLM "
      "a*T + b*T^2 per sample fitted over sequence lengths, generator per target, backward/forward ratio) and "
      "write a profile YAML for data.reorder_profile and `braid reorder --profile` (docs/REORDER.md)");
  cmd->add_option("job", a->job, "job spec (YAML); not with --machine");
  cmd->add_flag("--machine", a->machine,
                "measure this host instead (one core's matmul rate, memory bandwidth, local message latency) and "
                "write a planner cluster spec like deploy/clusters/local-cpu.yaml (docs/PLANNER.md)");
  cmd->add_option("-o,--output", a->out, "profile YAML to write (default: stdout)");
  cmd->add_option("--threads", a->threads, "threads of the speedup measurement (0 = all cores; costs are always measured on one)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--repeats", a->repeats, "timed runs per measurement (their median counts)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([run, a]() {
    *run = [a]() {
      if (a->machine) {
        if (!a->job.empty()) return std::fprintf(stderr, "braid profile: --machine takes no job\n"), kExitBadInput;
        return ProfileMachine(a->out, a->repeats);
      }
      if (a->job.empty()) return std::fprintf(stderr, "braid profile: a job spec (or --machine) is required\n"), kExitBadInput;
      return RunProfile(*a);
    };
  });
}

}  // namespace braid::cli
