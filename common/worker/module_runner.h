// One rank of one module executing training steps: its slice of the data
// (RankMicrobatch per microbatch), the boundary sends and receives of the
// data path (docs/PROTOCOL.md, "One training step"), 1F1B across modules,
// then the DP all-reduce, clipping and AdamW. Knows nothing of processes or
// sockets: it talks to a BoundaryTransport and a DpGroup.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config/job_config.h"
#include "common/nn/dit_generator.h"
#include "common/nn/llm.h"
#include "common/nn/vit_encoder.h"
#include "common/optim/adamw.h"
#include "common/parallel/layout.h"
#include "common/parallel/tp_comm.h"
#include "common/tensor/step_scalars.h"
#include "common/worker/device_boundary.h"
#include "common/worker/grad_allreduce.h"
#include "common/worker/rank_data.h"
#include "common/worker/rank_device.h"
#include "common/worker/transport.h"

namespace braid::worker {

// kRecvWait: waiting for a peer still computing what this rank needs (a
// pipeline bubble); kTransferWait: waiting although the peer had sent it (the
// transfer itself, exposed).
enum class SpanKind { kCompute = 1, kSend = 2, kRecvWait = 3, kAllReduce = 4, kOptimizer = 5, kTransferWait = 6 };
struct SpanRecord {
  SpanKind kind;
  int32_t microbatch;      // -1 for whole-step spans (all-reduce, optimizer)
  double start_seconds;    // from the step's start
  double seconds;
};

// What a compute span was doing; the generator runs each microbatch's forward
// and backward as one operation.
enum class ComputePhase { kForward = 0, kBackward = 1, kForwardBackward = 2, kOptimizer = 3 };
constexpr int kComputePhases = 4;
const char* ComputePhaseName(ComputePhase p);  // "forward", "backward", "forward_backward", "optimizer"

struct StepResult {
  double text_loss_sum = 0;  // LLM ranks
  double gen_loss_sum = 0;   // generator ranks
  int64_t tokens = 0;        // LLM ranks: packed tokens
  int64_t images = 0;        // encoder ranks
  double grad_norm = 0;      // of the module's DP-summed gradient (before clipping)
  float lr = 0;
  double seconds = 0;
  double start_unix = 0;     // wall clock at the step's start: aligns ranks' timelines
  // Boundary messages received: summed time from the sender's send to their
  // arrival here, bounds from when this rank last saw each incomplete and
  // first saw it complete (it looks between ops, so the bounds are tight).
  double transfer_seconds_min = 0, transfer_seconds_max = 0;
  int64_t messages = 0;
  std::vector<SpanRecord> spans;
  double compute_seconds[kComputePhases] = {0, 0, 0, 0};  // by ComputePhase (the compute and optimizer spans)
  int64_t bytes_sent = 0, bytes_received = 0;             // boundary tensors to and from other modules
};

class ModuleRunner {
 public:
  // rank: the module rank in the module's layout (cfg.parallel, arithmetic in
  // common/parallel/layout.h; the DP index when tp = pp = 1). dp: the group
  // of ranks holding the same slice in other replicas; tp: the rank's
  // tensor-parallel group (null when the module's tp is 1). Boundary
  // messages go to and come from module ranks (common/parallel/boundary.h).
  // mp: the rank's model-parallel group (its replica's TP x PP ranks: the
  // gradient norm and checkpoints), null when tp * pp is 1; with pp 1 it may
  // be the TP group itself.
  ModuleRunner(Role role, int rank, const JobConfig& cfg, BoundaryTransport* transport, DpGroup* dp,
               DpGroup* tp = nullptr, DpGroup* mp = nullptr);
  ~ModuleRunner();

  // Runs this rank on `device` from now on (docs/GPU.md step 3): moves the
  // params, gradients and AdamW state into its memory (call it after any
  // checkpoint load or write the state through the host-copy API); every
  // RunStep then computes there and stages what crosses the rank's edge
  // (boundary tensors, the microbatch's pixels) through host copies unless
  // UseDeviceBoundary gives them a device-to-device path; the DP all-reduce
  // too (GlooHostStaged over `dp`) unless UseGradAllReduce gives it another
  // path, and the TP group's sums (host copies over `tp`) unless UseTpComm
  // gives them another. Returns the device's first error, if any.
  Status UseDevice(std::unique_ptr<RankDevice> device);
  RankDevice* device() const { return device_.get(); }
  // After UseDevice, on a module with dp > 1: the DP sum of the gradients
  // takes `g` (NCCL on the device) instead of the host-staged Gloo path.
  void UseGradAllReduce(std::unique_ptr<GradAllReduce> g);
  // The device rank's DP all-reduce (null on the cpu or with dp 1): its
  // name, and Abort() on cancel (any thread).
  GradAllReduce* grad_allreduce() const { return grad_allreduce_.get(); }
  // After UseDevice: the boundary tensors go device to device through `b`
  // (NCCL send/recv; docs/NCCL.md "Boundaries on the device") instead of
  // host copies over the transport. Every rank of the job takes one, or
  // none does.
  void UseDeviceBoundary(std::unique_ptr<DeviceBoundary> b);
  // After UseDevice, on a module with tp > 1: the TP group's sums take `c`
  // (NCCL on the device) instead of host copies over the Gloo TP group.
  void UseTpComm(std::unique_ptr<parallel::TpComm> c);
  parallel::TpComm* tp_comm() const { return tp_comm_.get(); }
  DeviceBoundary* device_boundary() const { return device_boundary_.get(); }
  // The device made the calling thread's for the scope's life (null on
  // the cpu): for host-copy work between steps (checkpoints).
  std::unique_ptr<RankDevice::Scope> EnterDevice();

  // Runs step `step` over its microbatches (mbs[m].microbatch == m).
  StatusOr<StepResult> RunStep(int64_t step, const std::vector<RankMicrobatch>& mbs);

  Role role() const { return role_; }
  int rank() const { return rank_; }
  const parallel::Coord& coord() const { return coord_; }
  ParamBuffer& params();
  AdamW& optimizer() { return *opt_; }
  // For checkpoints of a sliced module (TP or PP): the whole module's views,
  // in the single-process order (a whole instance, made on first use).
  const ParamBuffer& WholeLayout();
  const char* module_name() const { return RoleName(role_); }

 private:
  struct Pending;  // per-microbatch state between forward and backward
  Status Forward(int64_t step, const RankMicrobatch& mb, Pending* p);
  Status Backward(int64_t step, const RankMicrobatch& mb, Pending* p);
  Status EncoderForward(int64_t step, const RankMicrobatch& mb, Pending* p);
  Status EncoderBackward(int64_t step, const RankMicrobatch& mb, Pending* p);
  Status LlmForward(int64_t step, const RankMicrobatch& mb, Pending* p);
  Status LlmBackward(int64_t step, const RankMicrobatch& mb, Pending* p);
  Status GeneratorForwardBackward(int64_t step, const RankMicrobatch& mb, Pending* p);
  void Span(SpanKind kind, int32_t mb, double start, double end);
  // The transport's Send / Recv, counting the tensor bytes into the step's result.
  Status SendCounted(Role dst_role, int dst_rank, const BoundaryKey& key, std::vector<int64_t> shape,
                     std::vector<float> data);
  StatusOr<Message> RecvCounted(Role src_role, int src_rank, const BoundaryKey& key);
  // Sends a unit routed to replica `dp` of `peer` to each of its TP ranks this rank serves.
  Status SendUnit(Role peer, int dp, const BoundaryKey& key, std::vector<int64_t> shape, std::vector<float> data);
  // With a DeviceBoundary: a microbatch's units (unit_floats each, unit
  // `index` at base + index * unit_floats) to or from the ranks of replica
  // peer_dp of `peer`, in ascending uid (device_boundary.h's order).
  struct BoundaryUnit {
    uint32_t uid;
    int64_t index;
    int peer_dp;
  };
  static std::vector<BoundaryUnit> EncoderUnits(const RankMicrobatch& mb);   // its images
  static std::vector<BoundaryUnit> LlmImageUnits(const RankMicrobatch& mb);  // the samples' images
  static std::vector<BoundaryUnit> LlmGenUnits(const RankMicrobatch& mb);    // the samples' generation targets
  static std::vector<BoundaryUnit> GeneratorUnits(const RankMicrobatch& mb); // its generation targets
  static void SortByUid(std::vector<BoundaryUnit>& units);
  Status SendUnitsOnDevice(Role peer, BoundaryKind kind, int64_t step, int32_t mb, std::vector<BoundaryUnit> units,
                           const float* base, int64_t unit_floats);
  Status RecvUnitsOnDevice(Role peer, BoundaryKind kind, int64_t step, int32_t mb, std::vector<BoundaryUnit> units,
                           float* base, int64_t unit_floats);
  // With a DeviceBoundary: a pipeline stage's hidden states (or their
  // gradient), n floats at `data`, to or from the LLM stage `stage` of this
  // replica.
  Status StageOnDevice(bool send, int stage, const BoundaryKey& key, float* data, int64_t n);
  // `s` with this rank named ("llm rank 2: ..."); OK stays OK.
  Status RankError(Status s) const;
  // The device boundary's asynchronous error, naming this rank and `what`.
  Status BoundaryError(const char* what);
  // Runs `f` marked busy on the host (HostCores) as one span of `kind`,
  // timed after any wait for cores; returns when it ended.
  template <typename F>
  double Compute(SpanKind kind, int32_t mb, F&& f);
  // Books a received message's transfer time; returns when it was sent
  // (steady clock of this process).
  double NoteArrival(const Message& m);
  // Splits a wait [t0, t1] for messages the last of which was sent at
  // `ready` into a bubble (before) and an exposed transfer (after).
  void WaitSpans(int32_t mb, double t0, double t1, double ready);
  void ExpectStepMessages(int64_t step, const std::vector<RankMicrobatch>& mbs);
  // Boundary peers (module ranks) for a unit routed to / from replica `dp` of `peer`.
  int PeerStage(Role peer) const;  // the pipeline stage of `peer` this module meets
  int Source(Role peer, int dp) const;
  int StageRank(int stage) const;
  std::vector<int> Destinations(Role peer, int dp) const;
  // Clips the module's gradient to cfg_.train.grad_clip by its global norm
  // (slices and stages summed over the model-parallel group, TP-replicated
  // tensors once). The norm goes to scalars_ (kGradNorm) or, with model
  // parallelism (summed on the host), to *host_norm.
  Status ClipModuleGradients(ParamBuffer& pb, double* host_norm);
  // The DP all-reduce's asynchronous error, naming this rank and `what` it
  // was doing (OK on the cpu).
  Status GradAllReduceError(const char* what);
  // The device's first error since the last check, naming this rank and
  // `what` it was doing (OK on the cpu).
  Status DeviceError(const char* what);

  // First member: destroyed last, after every tensor in its memory.
  std::unique_ptr<RankDevice> device_;
  Role role_;
  int rank_;
  JobConfig cfg_;
  parallel::Layout layouts_[kNumRoles];
  parallel::Coord coord_;
  BoundaryTransport* transport_;
  DpGroup* dp_;
  DpGroup* mp_;
  std::unique_ptr<nn::VitEncoder> whole_encoder_;  // WholeLayout's
  std::unique_ptr<nn::Llm> whole_llm_;
  std::unique_ptr<parallel::TpComm> tp_comm_;
  parallel::TpContext tp_ctx_;
  int64_t P_ = 0, C_ = 0, K_ = 0;  // patches per image, LLM width, generation slots
  std::unique_ptr<nn::VitEncoder> encoder_;
  std::unique_ptr<nn::Llm> llm_;
  std::unique_ptr<nn::DitGenerator> generator_;
  std::unique_ptr<AdamW> opt_;
  // One per microbatch, kept across steps: activation buffers keep their
  // capacity, so a step allocates (and page-faults) nothing new.
  std::vector<std::unique_ptr<Pending>> pending_;
  // The step's loss sums and grad norm, in the rank's memory (on a device:
  // read back once per step, docs/GPU.md "Step scalars").
  enum { kTextLossSum = 0, kGenLossSum = 1, kGradNorm = 2, kStepScalars = 3 };
  std::unique_ptr<StepScalars> scalars_;
  std::vector<int> bucket_plan_;              // gradient buckets in all-reduce order
  std::vector<ParamBuffer::Bucket> gaps_;     // parameters outside any bucket
  // A device rank's DP sum (after device_: torn down first): started
  // bucket by bucket in bucket_plan_ order as the backward finishes them,
  // then gaps_.
  std::unique_ptr<GradAllReduce> grad_allreduce_;
  std::unique_ptr<DeviceBoundary> device_boundary_;
  double step_start_ = 0;
  double unix_minus_steady_ = 0;
  StepResult* result_ = nullptr;
  ComputePhase phase_ = ComputePhase::kForward;  // of the compute spans now recorded
};

// Warm-up forwards of each module in the 1F1B schedule across modules
// (encoder = stage 0, LLM stages 1..P, generator = stage P+1 of P+2; P =
// the LLM's pipeline stages, llm_stage the LLM rank's own).
int WarmupForwards(Role role, int microbatches, int llm_stage = 0, int llm_stages = 1);

}  // namespace braid::worker
