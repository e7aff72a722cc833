#include "common/worker/module_runner.h"

#include <algorithm>
#include <cmath>

#include "common/base/check.h"
#include "common/base/clock.h"
#include "common/base/host_cores.h"
#include "common/base/rng.h"
#include "common/optim/grad_clip.h"
#include "common/optim/from_config.h"
#include "common/parallel/boundary.h"

namespace braid::worker {

// State of one microbatch between its forward and its backward.
struct ModuleRunner::Pending {
  nn::VitEncoder::Activations enc;
  nn::Llm::Activations llm;
  nn::DitGenerator::Activations gen;
  nn::LlmBatch batch;  // must outlive the LLM backward
  // On a device: the received (or host) inputs of the forward and the
  // backward, copied into device memory (kept: same sizes reuse them).
  // With a DeviceBoundary, stage_in and stage_grad receive the forward's and
  // the backward's boundary tensors directly.
  Tensor stage_in, stage_in2, stage_grad;
  // What the forward and the backward send across the boundary (kept until
  // the step's end: a DeviceBoundary reads them until its Flush).
  Tensor fwd_out, bwd_out;
};

int WarmupForwards(Role role, int microbatches, int llm_stage, int llm_stages) {
  const int stage = role == Role::kEncoder ? 0 : role == Role::kLlm ? 1 + llm_stage : llm_stages + 1;
  const int stages_after = llm_stages + 1 - stage;
  return std::min(stages_after, microbatches);
}

namespace {

// A DpGroup (Gloo, in-process) as the TP collective of the module math. On
// a device rank (a device backend on the thread) the sum goes through a
// host copy: the fallback when the TP group has no NCCL communicator
// (UseTpComm).
class GroupTpComm : public parallel::TpComm {
 public:
  explicit GroupTpComm(DpGroup* g) : g_(g) {}
  int size() const override { return g_->size(); }
  int rank() const override { return g_->rank(); }
  Status AllReduceSum(float* data, int64_t n) override {
    ops::DeviceMemory* mem = ops::CurrentDeviceMemory();
    if (mem == nullptr) return g_->AllReduceSum(data, n);
    std::vector<float> host(static_cast<size_t>(n));
    mem->CopyToHost(host.data(), data, host.size() * sizeof(float));
    RETURN_IF_ERROR(g_->AllReduceSum(host.data(), n));
    mem->CopyFromHost(data, host.data(), host.size() * sizeof(float));
    return Status::Ok();
  }

 private:
  DpGroup* g_;
};

parallel::Layout LayoutOf(const ModuleParallel& p) { return {p.dp, p.tp, p.pp}; }

// A module's output readable on the host: the tensor's own memory on the
// cpu (no copy), a host copy of it on a device.
class HostView {
 public:
  explicit HostView(const Tensor& t) : p_(t.data()) {
    if (t.on_device()) {
      copy_ = t.ToHost();
      p_ = copy_.data();
    }
  }
  const float* data() const { return p_; }

 private:
  std::vector<float> copy_;
  const float* p_;
};

}  // namespace

ModuleRunner::ModuleRunner(Role role, int rank, const JobConfig& cfg, BoundaryTransport* transport, DpGroup* dp,
                           DpGroup* tp, DpGroup* mp)
    : role_(role),
      rank_(rank),
      cfg_(cfg),
      layouts_{LayoutOf(cfg.parallel.encoder), LayoutOf(cfg.parallel.llm), LayoutOf(cfg.parallel.generator)},
      coord_(parallel::CoordOf(layouts_[int(role)], rank)),
      transport_(transport),
      dp_(dp),
      mp_(mp),
      tp_comm_(tp ? std::make_unique<GroupTpComm>(tp) : nullptr),
      tp_ctx_(tp_comm_.get()) {
  BRAID_CHECK_MSG(layouts_[int(role)].pp == 1 || role == Role::kLlm, "only the LLM is pipelined");
  BRAID_CHECK_MSG(layouts_[int(role)].tp * layouts_[int(role)].pp == 1 || mp != nullptr,
                  "%s rank %d: a sliced module needs its model-parallel group", RoleName(role), rank);
  BRAID_CHECK_MSG(layouts_[int(role)].tp == (tp ? tp->size() : 1), "%s rank %d: TP group of %d for tp %d",
                  RoleName(role), rank, tp ? tp->size() : 1, layouts_[int(role)].tp);
  parallel::TpContext* tpc = layouts_[int(role)].tp > 1 ? &tp_ctx_ : nullptr;
  const int g = cfg.model.encoder.image_size / cfg.model.encoder.patch;
  P_ = int64_t(g) * g;
  C_ = cfg.model.llm.width;
  K_ = cfg.model.generator.gen_slots;
  // ModuleInitKey, as MultimodalModel::Init: every rank of a module starts identical.
  switch (role) {
    case Role::kEncoder:
      encoder_ = std::make_unique<nn::VitEncoder>(cfg.model.encoder, C_, tpc);
      encoder_->Init(ModuleInitKey(cfg.seed, 1));
      break;
    case Role::kLlm: {
      // This rank's pipeline stage's layers (the job validator checked pp <= layers).
      StatusOr<std::vector<int>> first =
          parallel::SplitLayers(cfg.model.llm.layers, layouts_[int(role)].pp, cfg.parallel.llm.layers);
      BRAID_CHECK_MSG(first.ok(), "%s", first.status().message().c_str());
      const size_t k = size_t(coord_.pp);
      llm_ = std::make_unique<nn::Llm>(cfg.model.llm, tpc, nn::LlmStage{(*first)[k], (*first)[k + 1]});
      llm_->Init(ModuleInitKey(cfg.seed, 2));
      break;
    }
    case Role::kGenerator:
      BRAID_CHECK_MSG(tpc == nullptr, "the generator runs tp 1");
      generator_ = std::make_unique<nn::DitGenerator>(cfg.model.generator, C_);
      generator_->Init(ModuleInitKey(cfg.seed, 3));
      break;
  }
  opt_ = std::make_unique<AdamW>(params().size(), AdamWConfigFor(cfg.train));
  // All-reduce order: buckets from the end of the buffer (the backward
  // finishes the last layers first), then the ranges outside any bucket.
  const auto& buckets = params().buckets();
  for (int b = 0; b < int(buckets.size()); ++b) bucket_plan_.push_back(b);
  std::sort(bucket_plan_.begin(), bucket_plan_.end(),
            [&](int a, int b) { return buckets[size_t(a)].offset > buckets[size_t(b)].offset; });
  int64_t end = params().size();
  for (int b : bucket_plan_) {
    const ParamBuffer::Bucket& k = buckets[size_t(b)];
    if (k.offset + k.numel < end) gaps_.push_back({k.offset + k.numel, end - (k.offset + k.numel)});
    end = k.offset;
  }
  if (end > 0) gaps_.push_back({0, end});
}

ModuleRunner::~ModuleRunner() {
  if (!device_) return;
  // Device memory goes back with the device current on this thread.
  std::unique_ptr<RankDevice::Scope> scope = device_->Enter();
  grad_allreduce_.reset();
  device_boundary_.reset();
  tp_ctx_.set_comm(nullptr);
  tp_comm_.reset();
  scalars_.reset();
  pending_.clear();
  opt_.reset();
  encoder_.reset();
  llm_.reset();
  generator_.reset();
}

Status ModuleRunner::UseDevice(std::unique_ptr<RankDevice> device) {
  BRAID_CHECK_MSG(device != nullptr && device_ == nullptr, "%s rank %d: UseDevice once, with a device",
                  RoleName(role_), rank_);
  device_ = std::move(device);
  std::unique_ptr<RankDevice::Scope> scope = device_->Enter();
  ParamBuffer& pb = params();
  pb.MoveToDevice();
  opt_->MoveToDevice(pb);
  if (dp_->size() > 1) grad_allreduce_ = MakeGlooHostStagedAllReduce(dp_);
  return DeviceError("moving the parameters and optimizer state to the device");
}

void ModuleRunner::UseGradAllReduce(std::unique_ptr<GradAllReduce> g) {
  BRAID_CHECK_MSG(device_ != nullptr && dp_->size() > 1 && g != nullptr,
                  "%s rank %d: UseGradAllReduce after UseDevice, with dp > 1", RoleName(role_), rank_);
  grad_allreduce_ = std::move(g);
}

void ModuleRunner::UseTpComm(std::unique_ptr<parallel::TpComm> c) {
  BRAID_CHECK_MSG(device_ != nullptr && tp_comm_ != nullptr && c != nullptr && c->size() == tp_comm_->size() &&
                      c->rank() == tp_comm_->rank(),
                  "%s rank %d: UseTpComm after UseDevice, on a TP rank, with the same group", RoleName(role_), rank_);
  tp_comm_ = std::move(c);
  tp_ctx_.set_comm(tp_comm_.get());
}

void ModuleRunner::UseDeviceBoundary(std::unique_ptr<DeviceBoundary> b) {
  BRAID_CHECK_MSG(device_ != nullptr && b != nullptr, "%s rank %d: UseDeviceBoundary after UseDevice",
                  RoleName(role_), rank_);
  device_boundary_ = std::move(b);
}

Status ModuleRunner::BoundaryError(const char* what) {
  if (!device_boundary_) return Status::Ok();
  Status s = device_boundary_->CheckAsync();
  if (s.ok()) return s;
  return Status(s.code(), std::string(RoleName(role_)) + " rank " + std::to_string(rank_) + ", boundary " +
                              device_boundary_->name() + ", " + what + ": " + s.message());
}

Status ModuleRunner::GradAllReduceError(const char* what) {
  if (!grad_allreduce_) return Status::Ok();
  Status s = grad_allreduce_->CheckAsync();
  if (s.ok()) return s;
  return Status(s.code(), std::string(RoleName(role_)) + " rank " + std::to_string(rank_) + " DP all-reduce (" +
                              grad_allreduce_->name() + "), " + what + ": " + s.message());
}

std::unique_ptr<RankDevice::Scope> ModuleRunner::EnterDevice() { return device_ ? device_->Enter() : nullptr; }

Status ModuleRunner::DeviceError(const char* what) {
  if (!device_) return Status::Ok();
  Status s = device_->TakeError();
  if (s.ok()) return s;
  return Status(s.code(), std::string(RoleName(role_)) + " rank " + std::to_string(rank_) + " on " +
                              device_->kind() + ", " + what + ": " + s.message());
}

const ParamBuffer& ModuleRunner::WholeLayout() {
  switch (role_) {
    case Role::kEncoder:
      if (!whole_encoder_) whole_encoder_ = std::make_unique<nn::VitEncoder>(cfg_.model.encoder, C_);
      return whole_encoder_->params();
    case Role::kLlm:
      if (!whole_llm_) whole_llm_ = std::make_unique<nn::Llm>(cfg_.model.llm);
      return whole_llm_->params();
    case Role::kGenerator: break;
  }
  return params();  // the generator is never sliced
}

ParamBuffer& ModuleRunner::params() {
  switch (role_) {
    case Role::kEncoder: return encoder_->params();
    case Role::kLlm: return llm_->params();
    case Role::kGenerator: return generator_->params();
  }
  return llm_->params();
}

const char* ComputePhaseName(ComputePhase p) {
  switch (p) {
    case ComputePhase::kForward: return "forward";
    case ComputePhase::kBackward: return "backward";
    case ComputePhase::kForwardBackward: return "forward_backward";
    case ComputePhase::kOptimizer: return "optimizer";
  }
  return "unknown";
}

void ModuleRunner::Span(SpanKind kind, int32_t mb, double start, double end) {
  if (!result_ || end <= start) return;
  result_->spans.push_back({kind, mb, start - step_start_, end - start});
  if (kind == SpanKind::kCompute) result_->compute_seconds[int(phase_)] += end - start;
  if (kind == SpanKind::kOptimizer) result_->compute_seconds[int(ComputePhase::kOptimizer)] += end - start;
}

Status ModuleRunner::SendCounted(Role dst_role, int dst_rank, const BoundaryKey& key, std::vector<int64_t> shape,
                                 std::vector<float> data) {
  if (result_) result_->bytes_sent += int64_t(data.size() * sizeof(float));
  return transport_->Send(dst_role, dst_rank, key, std::move(shape), std::move(data));
}

StatusOr<Message> ModuleRunner::RecvCounted(Role src_role, int src_rank, const BoundaryKey& key) {
  StatusOr<Message> m = transport_->Recv(src_role, src_rank, key);
  if (m.ok() && result_) result_->bytes_received += int64_t(m->data.size() * sizeof(float));
  return m;
}

int ModuleRunner::PeerStage(Role peer) const {
  // The LLM meets the encoder at its first stage and the generator at its last.
  return peer == Role::kLlm && role_ == Role::kGenerator ? layouts_[int(Role::kLlm)].pp - 1 : 0;
}

int ModuleRunner::Source(Role peer, int dp) const {
  return parallel::BoundarySource(layouts_[int(peer)], dp, PeerStage(peer), coord_.tp);
}

std::vector<int> ModuleRunner::Destinations(Role peer, int dp) const {
  return parallel::BoundaryDestinations(layouts_[int(peer)], dp, PeerStage(peer), layouts_[int(role_)].tp,
                                        coord_.tp);
}

Status ModuleRunner::SendUnit(Role peer, int dp, const BoundaryKey& key, std::vector<int64_t> shape,
                              std::vector<float> data) {
  const std::vector<int> dst = Destinations(peer, dp);
  for (size_t i = 0; i < dst.size(); ++i)
    RETURN_IF_ERROR(SendCounted(peer, dst[i], key, shape, i + 1 == dst.size() ? std::move(data) : data));
  return Status::Ok();
}

// A microbatch's boundary units as each module holds them: the row block
// index in its buffer and the peer replica (device_boundary.h).
std::vector<ModuleRunner::BoundaryUnit> ModuleRunner::EncoderUnits(const RankMicrobatch& mb) {
  std::vector<BoundaryUnit> units;
  for (size_t k = 0; k < mb.images.size(); ++k) units.push_back({mb.images[k].uid, int64_t(k), mb.images[k].llm_rank});
  return units;
}

std::vector<ModuleRunner::BoundaryUnit> ModuleRunner::LlmImageUnits(const RankMicrobatch& mb) {
  std::vector<BoundaryUnit> units;
  int64_t k = 0;
  for (const RankSample& s : mb.samples)
    for (size_t j = 0; j < s.image_uids.size(); ++j, ++k) units.push_back({s.image_uids[j], k, s.image_encoder_ranks[j]});
  return units;
}

std::vector<ModuleRunner::BoundaryUnit> ModuleRunner::LlmGenUnits(const RankMicrobatch& mb) {
  std::vector<BoundaryUnit> units;
  int64_t g = 0;
  for (const RankSample& s : mb.samples)
    for (size_t j = 0; j < s.gen_uids.size(); ++j, ++g) units.push_back({s.gen_uids[j], g, s.gen_generator_ranks[j]});
  return units;
}

std::vector<ModuleRunner::BoundaryUnit> ModuleRunner::GeneratorUnits(const RankMicrobatch& mb) {
  std::vector<BoundaryUnit> units;
  for (size_t i = 0; i < mb.gen.size(); ++i) units.push_back({mb.gen[i].uid, int64_t(i), mb.gen[i].llm_rank});
  return units;
}

// device_boundary.h's order within a microbatch's hop: ascending uid, on
// both ends.
void ModuleRunner::SortByUid(std::vector<BoundaryUnit>& units) {
  std::sort(units.begin(), units.end(), [](const BoundaryUnit& a, const BoundaryUnit& b) { return a.uid < b.uid; });
}

Status ModuleRunner::SendUnitsOnDevice(Role peer, BoundaryKind kind, int64_t step, int32_t mb,
                                       std::vector<BoundaryUnit> units, const float* base, int64_t unit_floats) {
  SortByUid(units);
  for (const BoundaryUnit& u : units)
    for (int dst : Destinations(peer, u.peer_dp)) {
      RETURN_IF_ERROR(RankError(device_boundary_->Send(peer, dst, {kind, step, mb, u.uid},
                                                       base + u.index * unit_floats, unit_floats)));
      if (result_) result_->bytes_sent += unit_floats * int64_t(sizeof(float));
    }
  return Status::Ok();
}

Status ModuleRunner::RankError(Status s) const {
  if (s.ok()) return s;
  return Status(s.code(), std::string(RoleName(role_)) + " rank " + std::to_string(rank_) + ": " + s.message());
}

Status ModuleRunner::StageOnDevice(bool send, int stage, const BoundaryKey& key, float* data, int64_t n) {
  const int peer = StageRank(stage);
  if (send) {
    RETURN_IF_ERROR(RankError(device_boundary_->Send(Role::kLlm, peer, key, data, n)));
    if (result_) result_->bytes_sent += n * int64_t(sizeof(float));
  } else {
    RETURN_IF_ERROR(RankError(device_boundary_->Recv(Role::kLlm, peer, key, data, n)));
    if (result_) result_->bytes_received += n * int64_t(sizeof(float));
  }
  return Status::Ok();
}

Status ModuleRunner::RecvUnitsOnDevice(Role peer, BoundaryKind kind, int64_t step, int32_t mb,
                                       std::vector<BoundaryUnit> units, float* base, int64_t unit_floats) {
  SortByUid(units);
  for (const BoundaryUnit& u : units) {
    RETURN_IF_ERROR(RankError(device_boundary_->Recv(peer, Source(peer, u.peer_dp), {kind, step, mb, u.uid},
                                                     base + u.index * unit_floats, unit_floats)));
    if (result_) result_->bytes_received += unit_floats * int64_t(sizeof(float));
  }
  return Status::Ok();
}

template <typename F>
double ModuleRunner::Compute(SpanKind kind, int32_t mb, F&& f) {
  HostBusyScope busy;  // may first wait for peers to hand back cores: not compute
  const double t0 = NowSeconds();
  f();
  const double t1 = NowSeconds();
  Span(kind, mb, t0, t1);
  return t1;
}

double ModuleRunner::NoteArrival(const Message& m) {
  if (m.sent_unix <= 0) return 0;
  if (result_) {
    result_->transfer_seconds_min += std::max(0.0, m.arrived_after_unix - m.sent_unix);
    result_->transfer_seconds_max += std::max(0.0, m.arrived_by_unix - m.sent_unix);
    ++result_->messages;
  }
  return m.sent_unix - unix_minus_steady_;
}

void ModuleRunner::WaitSpans(int32_t mb, double t0, double t1, double ready) {
  const double split = std::clamp(ready, t0, t1);
  Span(SpanKind::kRecvWait, mb, t0, split);
  Span(SpanKind::kTransferWait, mb, split, t1);
}

// Posts every receive of the step up front: messages then arrive while this
// rank computes (the transport is polled between ops) instead of when asked for.
void ModuleRunner::ExpectStepMessages(int64_t step, const std::vector<RankMicrobatch>& mbs) {
  if (device_boundary_) return;  // the boundary tensors go device to device
  for (const RankMicrobatch& mb : mbs) {
    switch (role_) {
      case Role::kEncoder:
        for (const RankImage& im : mb.images)
          transport_->Expect(Role::kLlm, Source(Role::kLlm, im.llm_rank), {BoundaryKind::kLlmToEnc, step, mb.microbatch, im.uid});
        break;
      case Role::kLlm: {
        const bool first = llm_->first_stage(), last = llm_->last_stage();
        if (!first && !mb.samples.empty()) {
          transport_->Expect(Role::kLlm, StageRank(coord_.pp - 1), {BoundaryKind::kLlmStageFwd, step, mb.microbatch, 0});
        }
        if (!last && !mb.samples.empty()) {
          transport_->Expect(Role::kLlm, StageRank(coord_.pp + 1), {BoundaryKind::kLlmStageBwd, step, mb.microbatch, 0});
        }
        for (const RankSample& s : mb.samples) {
          for (size_t j = 0; first && j < s.image_uids.size(); ++j)
            transport_->Expect(Role::kEncoder, Source(Role::kEncoder, s.image_encoder_ranks[j]),
                               {BoundaryKind::kEncToLlm, step, mb.microbatch, s.image_uids[j]});
          for (size_t j = 0; last && j < s.gen_uids.size(); ++j)
            transport_->Expect(Role::kGenerator, Source(Role::kGenerator, s.gen_generator_ranks[j]),
                               {BoundaryKind::kGenToLlm, step, mb.microbatch, s.gen_uids[j]});
        }
        break;
      }
      case Role::kGenerator:
        for (const RankGen& gt : mb.gen)
          transport_->Expect(Role::kLlm, Source(Role::kLlm, gt.llm_rank), {BoundaryKind::kLlmToGen, step, mb.microbatch, gt.uid});
        break;
    }
  }
}

// ---- encoder ---------------------------------------------------------------

Status ModuleRunner::EncoderForward(int64_t step, const RankMicrobatch& mb, Pending* p) {
  const int64_t n = int64_t(mb.images.size());
  if (n == 0) return Status::Ok();
  const int64_t pix = int64_t(cfg_.model.encoder.image_size) * cfg_.model.encoder.image_size;
  std::vector<float> images;
  images.reserve(size_t(n * pix));
  for (const RankImage& im : mb.images) images.insert(images.end(), im.pixels.begin(), im.pixels.end());
  Tensor& emb = p->fwd_out;
  const float* pixels = StagedForOps(images, &p->stage_in);
  const double t1 =
      Compute(SpanKind::kCompute, mb.microbatch, [&] { encoder_->Forward(pixels, n, &emb, &p->enc); });
  RETURN_IF_ERROR(DeviceError("encoder forward"));
  if (device_boundary_) {
    RETURN_IF_ERROR(SendUnitsOnDevice(Role::kLlm, BoundaryKind::kEncToLlm, step, mb.microbatch, EncoderUnits(mb),
                                      emb.data(), P_ * C_));
    Span(SpanKind::kSend, mb.microbatch, t1, NowSeconds());
    result_->images += n;
    return Status::Ok();
  }
  const HostView host_emb(emb);
  for (int64_t k = 0; k < n; ++k) {
    const RankImage& im = mb.images[size_t(k)];
    std::vector<float> rows(host_emb.data() + k * P_ * C_, host_emb.data() + (k + 1) * P_ * C_);
    RETURN_IF_ERROR(SendUnit(Role::kLlm, im.llm_rank, {BoundaryKind::kEncToLlm, step, mb.microbatch, im.uid},
                                     {P_, C_}, std::move(rows)));
  }
  Span(SpanKind::kSend, mb.microbatch, t1, NowSeconds());
  result_->images += n;
  return Status::Ok();
}

Status ModuleRunner::EncoderBackward(int64_t step, const RankMicrobatch& mb, Pending* p) {
  const int64_t n = int64_t(mb.images.size());
  if (n == 0) return Status::Ok();
  if (device_boundary_) {
    p->stage_grad.Resize({n * P_ * C_});
    const double t0 = NowSeconds();
    RETURN_IF_ERROR(RecvUnitsOnDevice(Role::kLlm, BoundaryKind::kLlmToEnc, step, mb.microbatch, EncoderUnits(mb),
                                      p->stage_grad.data(), P_ * C_));
    Span(SpanKind::kRecvWait, mb.microbatch, t0, NowSeconds());
    Compute(SpanKind::kCompute, mb.microbatch, [&] { encoder_->Backward(p->stage_grad.data(), &p->enc); });
    return DeviceError("encoder backward");
  }
  std::vector<float> demb(static_cast<size_t>(n * P_ * C_));
  double t0 = NowSeconds(), ready = 0;
  for (int64_t k = 0; k < n; ++k) {
    const RankImage& im = mb.images[size_t(k)];
    ASSIGN_OR_RETURN(Message m, RecvCounted(Role::kLlm, Source(Role::kLlm, im.llm_rank),
                                                 {BoundaryKind::kLlmToEnc, step, mb.microbatch, im.uid}));
    ready = std::max(ready, NoteArrival(m));
    if (int64_t(m.data.size()) != P_ * C_)
      return Status::Internal("image gradient of unit " + std::to_string(im.uid) + " has " +
                              std::to_string(m.data.size()) + " values, want " + std::to_string(P_ * C_));
    std::copy(m.data.begin(), m.data.end(), demb.begin() + k * P_ * C_);
  }
  WaitSpans(mb.microbatch, t0, NowSeconds(), ready);
  const float* dout = StagedForOps(demb, &p->stage_grad);
  Compute(SpanKind::kCompute, mb.microbatch, [&] { encoder_->Backward(dout, &p->enc); });
  return DeviceError("encoder backward");
}

// ---- LLM -------------------------------------------------------------------

// The LLM rank of this replica and TP index at pipeline stage `stage`.
int ModuleRunner::StageRank(int stage) const {
  return parallel::RankOf(layouts_[int(Role::kLlm)], {coord_.dp, coord_.tp, stage});
}

Status ModuleRunner::LlmForward(int64_t step, const RankMicrobatch& mb, Pending* p) {
  if (mb.samples.empty()) return Status::Ok();
  const bool first = llm_->first_stage(), last = llm_->last_stage();
  nn::LlmBatch& b = p->batch;
  b = nn::LlmBatch();
  int64_t n_images = 0;
  for (const RankSample& s : mb.samples) {
    b.Append(s.tokens, &s.targets);
    n_images += int64_t(s.image_uids.size());
  }
  if (int64_t(b.image_rows.size()) != n_images * P_)
    return Status::Internal("llm: image placeholder rows do not match the routed images");
  // The first stage gathers the image embeddings of its samples, from
  // whichever encoder ranks made them; a later stage the previous stage's
  // hidden states.
  std::vector<float> image_emb, hidden_in;
  double t0 = NowSeconds(), ready = 0;
  if (device_boundary_ && first) {
    p->stage_in.Resize({n_images * P_ * C_});
    RETURN_IF_ERROR(RecvUnitsOnDevice(Role::kEncoder, BoundaryKind::kEncToLlm, step, mb.microbatch,
                                      LlmImageUnits(mb), p->stage_in.data(), P_ * C_));
  } else if (device_boundary_) {
    p->stage_in2.Resize({b.size() * C_});
    RETURN_IF_ERROR(StageOnDevice(false, coord_.pp - 1, {BoundaryKind::kLlmStageFwd, step, mb.microbatch, 0},
                                  p->stage_in2.data(), b.size() * C_));
  } else if (first) {
    image_emb.resize(static_cast<size_t>(n_images * P_ * C_));
    int64_t k = 0;
    for (const RankSample& s : mb.samples)
      for (size_t j = 0; j < s.image_uids.size(); ++j, ++k) {
        ASSIGN_OR_RETURN(Message m, RecvCounted(Role::kEncoder, Source(Role::kEncoder, s.image_encoder_ranks[j]),
                                                {BoundaryKind::kEncToLlm, step, mb.microbatch, s.image_uids[j]}));
        ready = std::max(ready, NoteArrival(m));
        if (int64_t(m.data.size()) != P_ * C_) return Status::Internal("llm: image embedding of wrong size");
        std::copy(m.data.begin(), m.data.end(), image_emb.begin() + k * P_ * C_);
      }
  } else {
    ASSIGN_OR_RETURN(Message m, RecvCounted(Role::kLlm, StageRank(coord_.pp - 1),
                                            {BoundaryKind::kLlmStageFwd, step, mb.microbatch, 0}));
    ready = NoteArrival(m);
    if (int64_t(m.data.size()) != b.size() * C_)
      return Status::Internal("llm stage " + std::to_string(coord_.pp) + ": hidden states of " +
                              std::to_string(m.data.size()) + " values for a microbatch of " +
                              std::to_string(b.size()) + " tokens");
    hidden_in = std::move(m.data);
  }
  WaitSpans(mb.microbatch, t0, NowSeconds(), ready);
  Tensor unused;  // what this stage does not make (gen_hidden or hidden_out)
  Tensor& gen_hidden = last ? p->fwd_out : unused;
  Tensor& hidden_out = last ? unused : p->fwd_out;
  int64_t count = 0;
  const float* image_in = !first               ? nullptr
                          : device_boundary_ ? p->stage_in.data()
                                             : StagedForOps(image_emb, &p->stage_in);
  const float* hidden_in_dev = first              ? nullptr
                               : device_boundary_ ? p->stage_in2.data()
                                                  : StagedForOps(hidden_in, &p->stage_in2);
  const double t2 = Compute(SpanKind::kCompute, mb.microbatch, [&] {
    llm_->ForwardStage(b, image_in, hidden_in_dev, &hidden_out, &gen_hidden, scalars_->at(kTextLossSum), &count,
                       &p->llm);
  });
  RETURN_IF_ERROR(DeviceError("llm forward"));
  if (first) result_->tokens += b.size();  // counted once per replica: on its first stage
  if (device_boundary_ && last) {
    RETURN_IF_ERROR(SendUnitsOnDevice(Role::kGenerator, BoundaryKind::kLlmToGen, step, mb.microbatch,
                                      LlmGenUnits(mb), gen_hidden.data(), K_ * C_));
  } else if (device_boundary_) {
    RETURN_IF_ERROR(StageOnDevice(true, coord_.pp + 1, {BoundaryKind::kLlmStageFwd, step, mb.microbatch, 0},
                                  hidden_out.data(), b.size() * C_));
  } else if (!last) {
    RETURN_IF_ERROR(SendCounted(Role::kLlm, StageRank(coord_.pp + 1),
                                {BoundaryKind::kLlmStageFwd, step, mb.microbatch, 0}, {b.size(), C_},
                                hidden_out.ToHost()));
  } else {
    const HostView host_gen(gen_hidden);
    int64_t g = 0;
    for (const RankSample& s : mb.samples)
      for (size_t j = 0; j < s.gen_uids.size(); ++j, ++g) {
        std::vector<float> rows(host_gen.data() + g * K_ * C_, host_gen.data() + (g + 1) * K_ * C_);
        RETURN_IF_ERROR(SendUnit(Role::kGenerator, s.gen_generator_ranks[j],
                                 {BoundaryKind::kLlmToGen, step, mb.microbatch, s.gen_uids[j]}, {K_, C_},
                                 std::move(rows)));
      }
  }
  Span(SpanKind::kSend, mb.microbatch, t2, NowSeconds());
  return Status::Ok();
}

Status ModuleRunner::LlmBackward(int64_t step, const RankMicrobatch& mb, Pending* p) {
  if (mb.samples.empty()) return Status::Ok();
  const bool first = llm_->first_stage(), last = llm_->last_stage();
  const int64_t N = p->batch.size();
  int64_t n_gen = 0;
  for (const RankSample& s : mb.samples) n_gen += int64_t(s.gen_uids.size());
  // The last stage gets the generator's conditioning gradients; an earlier
  // stage the next stage's gradient of its hidden states.
  std::vector<float> dgen, dhidden_out;
  double t0 = NowSeconds(), ready = 0;
  if (device_boundary_ && last) {
    p->stage_grad.Resize({n_gen * K_ * C_});
    RETURN_IF_ERROR(RecvUnitsOnDevice(Role::kGenerator, BoundaryKind::kGenToLlm, step, mb.microbatch,
                                      LlmGenUnits(mb), p->stage_grad.data(), K_ * C_));
  } else if (device_boundary_) {
    p->stage_grad.Resize({N * C_});
    RETURN_IF_ERROR(StageOnDevice(false, coord_.pp + 1, {BoundaryKind::kLlmStageBwd, step, mb.microbatch, 0},
                                  p->stage_grad.data(), N * C_));
  } else if (last) {
    dgen.resize(static_cast<size_t>(n_gen * K_ * C_));
    int64_t g = 0;
    for (const RankSample& s : mb.samples)
      for (size_t j = 0; j < s.gen_uids.size(); ++j, ++g) {
        ASSIGN_OR_RETURN(Message m,
                         RecvCounted(Role::kGenerator, Source(Role::kGenerator, s.gen_generator_ranks[j]),
                                     {BoundaryKind::kGenToLlm, step, mb.microbatch, s.gen_uids[j]}));
        ready = std::max(ready, NoteArrival(m));
        if (int64_t(m.data.size()) != K_ * C_) return Status::Internal("llm: conditioning gradient of wrong size");
        std::copy(m.data.begin(), m.data.end(), dgen.begin() + g * K_ * C_);
      }
  } else {
    ASSIGN_OR_RETURN(Message m, RecvCounted(Role::kLlm, StageRank(coord_.pp + 1),
                                            {BoundaryKind::kLlmStageBwd, step, mb.microbatch, 0}));
    ready = NoteArrival(m);
    if (int64_t(m.data.size()) != N * C_) return Status::Internal("llm: hidden-state gradient of wrong size");
    dhidden_out = std::move(m.data);
  }
  WaitSpans(mb.microbatch, t0, NowSeconds(), ready);
  const float text_scale = mb.global_text_targets > 0 ? 1.0f / float(mb.global_text_targets) : 0.0f;
  Tensor unused;  // what this stage does not make (dimage_emb or dhidden_in)
  Tensor& dimg = first ? p->bwd_out : unused;
  Tensor& dhidden_in = first ? unused : p->bwd_out;
  const float* dgen_in = !(n_gen > 0 && last) ? nullptr
                         : device_boundary_   ? p->stage_grad.data()
                                              : StagedForOps(dgen, &p->stage_grad);
  const float* dhidden_out_in = last               ? nullptr
                                : device_boundary_ ? p->stage_grad.data()
                                                   : StagedForOps(dhidden_out, &p->stage_grad);
  const double t2 = Compute(SpanKind::kCompute, mb.microbatch, [&] {
    llm_->BackwardStage(text_scale, dgen_in, dhidden_out_in, &dhidden_in, &dimg, &p->llm);
  });
  RETURN_IF_ERROR(DeviceError("llm backward"));
  if (device_boundary_ && first) {
    RETURN_IF_ERROR(SendUnitsOnDevice(Role::kEncoder, BoundaryKind::kLlmToEnc, step, mb.microbatch,
                                      LlmImageUnits(mb), dimg.data(), P_ * C_));
  } else if (device_boundary_) {
    RETURN_IF_ERROR(StageOnDevice(true, coord_.pp - 1, {BoundaryKind::kLlmStageBwd, step, mb.microbatch, 0},
                                  dhidden_in.data(), N * C_));
  } else if (!first) {
    RETURN_IF_ERROR(SendCounted(Role::kLlm, StageRank(coord_.pp - 1),
                                {BoundaryKind::kLlmStageBwd, step, mb.microbatch, 0}, {N, C_},
                                dhidden_in.ToHost()));
  } else {
    const HostView host_dimg(dimg);
    int64_t k = 0;
    for (const RankSample& s : mb.samples)
      for (size_t j = 0; j < s.image_uids.size(); ++j, ++k) {
        std::vector<float> rows(host_dimg.data() + k * P_ * C_, host_dimg.data() + (k + 1) * P_ * C_);
        RETURN_IF_ERROR(SendUnit(Role::kEncoder, s.image_encoder_ranks[j],
                                 {BoundaryKind::kLlmToEnc, step, mb.microbatch, s.image_uids[j]}, {P_, C_},
                                 std::move(rows)));
      }
  }
  Span(SpanKind::kSend, mb.microbatch, t2, NowSeconds());
  return Status::Ok();
}

// ---- generator -------------------------------------------------------------

Status ModuleRunner::GeneratorForwardBackward(int64_t step, const RankMicrobatch& mb, Pending* p) {
  const int64_t n = int64_t(mb.gen.size());
  if (n == 0) return Status::Ok();
  const int64_t pix = generator_->pixels();
  std::vector<float> cond, images;
  std::vector<uint64_t> keys;
  double t0 = NowSeconds(), ready = 0;
  if (device_boundary_) {
    p->stage_in.Resize({n * K_ * C_});
    RETURN_IF_ERROR(RecvUnitsOnDevice(Role::kLlm, BoundaryKind::kLlmToGen, step, mb.microbatch, GeneratorUnits(mb),
                                      p->stage_in.data(), K_ * C_));
  } else {
    cond.resize(static_cast<size_t>(n * K_ * C_));
  }
  for (int64_t i = 0; i < n; ++i) {
    const RankGen& gt = mb.gen[size_t(i)];
    if (!device_boundary_) {
      ASSIGN_OR_RETURN(Message m, RecvCounted(Role::kLlm, Source(Role::kLlm, gt.llm_rank),
                                              {BoundaryKind::kLlmToGen, step, mb.microbatch, gt.uid}));
      ready = std::max(ready, NoteArrival(m));
      if (int64_t(m.data.size()) != K_ * C_) return Status::Internal("generator: conditioning of wrong size");
      std::copy(m.data.begin(), m.data.end(), cond.begin() + i * K_ * C_);
    }
    if (int64_t(gt.pixels.size()) != pix) return Status::Internal("generator: target image of wrong size");
    images.insert(images.end(), gt.pixels.begin(), gt.pixels.end());
    keys.push_back(gt.key);
  }
  WaitSpans(mb.microbatch, t0, NowSeconds(), ready);
  const float gen_scale = mb.global_gen_targets > 0 ? 1.0f / float(mb.global_gen_targets) : 0.0f;
  Tensor& dcond = p->bwd_out;
  const float* cond_in = device_boundary_ ? p->stage_in.data() : StagedForOps(cond, &p->stage_in);
  const float* images_in = StagedForOps(images, &p->stage_in2);
  const double t2 = Compute(SpanKind::kCompute, mb.microbatch, [&] {
    generator_->Forward(cond_in, images_in, keys.data(), n, scalars_->at(kGenLossSum), &p->gen);
    generator_->Backward(gen_scale, &dcond, &p->gen);
  });
  RETURN_IF_ERROR(DeviceError("generator forward and backward"));
  if (device_boundary_) {
    RETURN_IF_ERROR(SendUnitsOnDevice(Role::kLlm, BoundaryKind::kGenToLlm, step, mb.microbatch, GeneratorUnits(mb),
                                      dcond.data(), K_ * C_));
    Span(SpanKind::kSend, mb.microbatch, t2, NowSeconds());
    return Status::Ok();
  }
  const HostView host_dcond(dcond);
  for (int64_t i = 0; i < n; ++i) {
    const RankGen& gt = mb.gen[size_t(i)];
    std::vector<float> rows(host_dcond.data() + i * K_ * C_, host_dcond.data() + (i + 1) * K_ * C_);
    RETURN_IF_ERROR(SendUnit(Role::kLlm, gt.llm_rank, {BoundaryKind::kGenToLlm, step, mb.microbatch, gt.uid},
                                     {K_, C_}, std::move(rows)));
  }
  Span(SpanKind::kSend, mb.microbatch, t2, NowSeconds());
  return Status::Ok();
}

// ---- schedule ----------------------------------------------------------------

Status ModuleRunner::Forward(int64_t step, const RankMicrobatch& mb, Pending* p) {
  phase_ = role_ == Role::kGenerator ? ComputePhase::kForwardBackward : ComputePhase::kForward;
  Status s = Status::Internal("unknown role");
  switch (role_) {
    case Role::kEncoder: s = EncoderForward(step, mb, p); break;
    case Role::kLlm: s = LlmForward(step, mb, p); break;
    case Role::kGenerator: s = GeneratorForwardBackward(step, mb, p); break;
  }
  RETURN_IF_ERROR(tp_ctx_.status());  // a failed TP collective: the numbers after it are garbage
  return s;
}

Status ModuleRunner::Backward(int64_t step, const RankMicrobatch& mb, Pending* p) {
  phase_ = ComputePhase::kBackward;
  Status s = Status::Internal("unknown role");
  switch (role_) {
    case Role::kEncoder: s = EncoderBackward(step, mb, p); break;
    case Role::kLlm: s = LlmBackward(step, mb, p); break;
    case Role::kGenerator: s = Status::Ok(); break;  // done together with its forward
  }
  RETURN_IF_ERROR(tp_ctx_.status());
  return s;
}

Status ModuleRunner::ClipModuleGradients(ParamBuffer& pb, double* host_norm) {
  const double clip = cfg_.train.grad_clip;
  if (mp_ == nullptr) {  // the norm stays on the device, with the step's other scalars
    ClipGradNormInto(pb.grads_data(), pb.size(), clip, scalars_->at(kGradNorm));
    return Status::Ok();
  }
  // Slices and pipeline stages hold disjoint parts of the module's gradient;
  // tensors replicated over TP are identical on every TP rank and count once
  // (TP rank 0's). The sum runs over the replica's model-parallel group, on
  // the host (Gloo): the views' norms are made in the rank's memory and read
  // back at once (on a device, the step's second read).
  std::vector<const ParamView*> counted;
  for (const ParamView& v : pb.views())
    if (!(v.shard.replicated() && coord_.tp != 0)) counted.push_back(&v);
  TensorT<double> norms({int64_t(counted.size())});
  for (size_t i = 0; i < counted.size(); ++i)
    GradNormInto(norms.data() + i, pb.grads_data() + counted[i]->offset, counted[i]->numel);
  double sq = 0;
  for (double n : norms.ToHost()) sq += n * n;
  RETURN_IF_ERROR(mp_->AllReduceSum(&sq, 1));
  *host_norm = std::sqrt(sq);
  ClipToNorm(pb.grads_data(), pb.size(), *host_norm, clip);
  return Status::Ok();
}

StatusOr<StepResult> ModuleRunner::RunStep(int64_t step, const std::vector<RankMicrobatch>& mbs) {
  StepResult result;
  result_ = &result;
  step_start_ = NowSeconds();
  result.start_unix = UnixNowSeconds();
  unix_minus_steady_ = result.start_unix - step_start_;
  ExpectStepMessages(step, mbs);
  // On a device the whole step runs with it current on this thread.
  std::unique_ptr<RankDevice::Scope> device_scope = EnterDevice();
  ParamBuffer& pb = params();
  pb.ZeroGrads();
  if (!scalars_) scalars_ = std::make_unique<StepScalars>(kStepScalars);  // in the rank's device memory
  scalars_->Zero();
  const int M = int(mbs.size());
  while (int(pending_.size()) < M) pending_.push_back(std::make_unique<Pending>());
  // 1F1B across modules: `w` warm-up forwards, then one forward and one
  // backward alternately, then the remaining backwards.
  const int w = WarmupForwards(role_, M, role_ == Role::kLlm ? coord_.pp : 0, layouts_[int(Role::kLlm)].pp);
  int next_f = 0, next_b = 0;
  // DP: each gradient bucket's all-reduce starts as soon as the step's last
  // backward has finished it, in a fixed order (the same on every rank: a
  // rank whose last microbatch is empty starts them all at the end). On
  // the host over Gloo (dp_); on a device through grad_allreduce_: NCCL on
  // a communication stream while the backward goes on, or the host-staged
  // Gloo fallback, which queues the buckets and sums them after it.
  const bool overlap = dp_->size() > 1;
  Status start_status;
  auto start_range = [&](const ParamBuffer::Bucket& b) {
    Status s = grad_allreduce_ ? grad_allreduce_->Start(pb, b)
                               : dp_->StartAllReduceSum(pb.grads().data() + b.offset, b.numel);
    if (start_status.ok()) start_status = s;
  };
  struct ClearHook {  // the hook refers to this frame: never outlive it
    ParamBuffer& pb;
    ~ClearHook() { pb.SetBucketReadyHook(nullptr); }
  } clear_hook{pb};
  std::vector<char> ready(pb.buckets().size(), 0);
  size_t started = 0;
  auto start_ready = [&](bool all) {
    for (; started < bucket_plan_.size() && (all || ready[size_t(bucket_plan_[started])]); ++started) {
      start_range(pb.buckets()[size_t(bucket_plan_[started])]);
    }
  };
  auto arm_overlap = [&]() {
    if (!overlap) return;
    pb.SetBucketReadyHook([&](int b) {
      ready[size_t(b)] = 1;
      start_ready(false);
    });
  };
  auto forward = [&]() -> Status {
    if (role_ == Role::kGenerator && next_f == M - 1) arm_overlap();  // its backward runs in its forward
    Status s = Forward(step, mbs[size_t(next_f)], pending_[size_t(next_f)].get());
    ++next_f;
    return s;
  };
  auto backward = [&]() -> Status {
    if (role_ != Role::kGenerator && next_b == M - 1) arm_overlap();
    Status s = Backward(step, mbs[size_t(next_b)], pending_[size_t(next_b)].get());
    ++next_b;
    return s;
  };
  for (int i = 0; i < w; ++i) RETURN_IF_ERROR(forward());
  while (next_f < M) {
    RETURN_IF_ERROR(forward());
    RETURN_IF_ERROR(backward());
  }
  while (next_b < M) RETURN_IF_ERROR(backward());
  {
    double t0 = NowSeconds();
    RETURN_IF_ERROR(transport_->FlushSends());
    if (device_boundary_) {
      RETURN_IF_ERROR(device_boundary_->Flush());
      RETURN_IF_ERROR(BoundaryError("after the step's transfers"));
    }
    Span(SpanKind::kSend, -1, t0, NowSeconds());
  }
  // Data parallel: sum the gradients over the module's DP group. What the
  // backward did not start (the rest of the buckets, then the parameters
  // outside any bucket) starts now; the span is the wait that remains.
  double t0 = NowSeconds();
  if (overlap) {
    start_ready(true);
    for (const ParamBuffer::Bucket& g : gaps_) start_range(g);
    if (grad_allreduce_) {
      RETURN_IF_ERROR(GradAllReduceError("after the backward"));
      Status f = grad_allreduce_->Finish(pb);
      RETURN_IF_ERROR(start_status);
      RETURN_IF_ERROR(f);
      RETURN_IF_ERROR(GradAllReduceError("before the optimizer"));
    } else {
      Status w = dp_->WaitAllReduces();
      RETURN_IF_ERROR(start_status);
      RETURN_IF_ERROR(w);
    }
  }
  double t1 = NowSeconds();
  Span(SpanKind::kAllReduce, -1, t0, t1);
  result.lr = LearningRateAt(LrScheduleFor(cfg_.train), int(step));
  double mp_norm = 0;
  const double t2 = Compute(SpanKind::kOptimizer, -1, [&] {
    Status s = ClipModuleGradients(pb, &mp_norm);
    if (!s.ok()) {
      start_status = s;
      return;
    }
    opt_->Step(pb, result.lr);
  });
  RETURN_IF_ERROR(start_status);
  RETURN_IF_ERROR(DeviceError("optimizer step"));
  RETURN_IF_ERROR(GradAllReduceError("after the optimizer step"));
  // The step's one read of the device: its loss sums and grad norm.
  const std::vector<double> sv = scalars_->Read();
  RETURN_IF_ERROR(DeviceError("reading the step's losses and grad norm"));
  result.text_loss_sum = sv[kTextLossSum];
  result.gen_loss_sum = sv[kGenLossSum];
  result.grad_norm = mp_ != nullptr ? mp_norm : sv[kGradNorm];
  result.seconds = t2 - step_start_;
  // Every TP rank of a replica computed the same losses and counts; only TP
  // rank 0 reports them, so the orchestrator's sums count each replica once.
  if (coord_.tp != 0) {
    result.text_loss_sum = result.gen_loss_sum = 0;
    result.tokens = result.images = 0;
  }
  result_ = nullptr;
  return result;
}

}  // namespace braid::worker
