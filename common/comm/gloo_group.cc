#include "common/comm/gloo_group.h"

#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/context.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/store.h>
#include <gloo/transport/tcp/device.h>
#include <gloo/transport/unbound_buffer.h>
#include <gloo/types.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace braid::comm {
namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using UnboundBufferPtr = std::unique_ptr<::gloo::transport::UnboundBuffer>;

// Slot prefix for braid's own collectives; Gloo's use 0x01..0x08.
constexpr uint8_t kBraidSlotPrefix = 0x42;
// Largest chunk one rank owns per all-reduce segment; bounds scratch memory
// to (size - 1) x this.
constexpr int64_t kMaxChunkBytes = int64_t{16} << 20;
// Pipelining unit inside a chunk (Gloo's ring uses 1 MiB segments too).
constexpr int64_t kBlockBytes = int64_t{1} << 20;

// Thrown by KvGlooStore so the store's Status (code and message, e.g.
// DeadlineExceeded naming the key) survives the trip through Gloo's stack.
struct KvStoreError : public ::gloo::IoException {
  explicit KvStoreError(Status s) : ::gloo::IoException(s.ToString()), status(std::move(s)) {}
  Status status;
};

// gloo::rendezvous::Store over a KvStore. Every wait ends by `deadline` (the
// end of the whole rendezvous). Values fetched by wait() are cached for the
// get() that follows, so a remote store is asked once per key (rendezvous keys
// are written once).
class KvGlooStore : public ::gloo::rendezvous::Store {
 public:
  KvGlooStore(KvStore* kv, Clock::time_point deadline) : kv_(kv), deadline_(deadline) {}

  void set(const std::string& key, const std::vector<char>& data) override {
    const std::vector<uint8_t> bytes(data.begin(), data.end());
    Status st = kv_->Set(key, bytes);
    if (!st.ok()) throw KvStoreError(std::move(st));
  }

  std::vector<char> get(const std::string& key) override {
    auto it = cache_.find(key);
    if (it == cache_.end()) it = cache_.emplace(key, Fetch(key, deadline_)).first;
    return it->second;
  }

  void wait(const std::vector<std::string>& keys) override { wait(keys, ::gloo::kNoTimeout); }

  void wait(const std::vector<std::string>& keys, const Millis& timeout) override {
    Clock::time_point deadline = deadline_;
    if (timeout > Millis::zero()) deadline = std::min(deadline, Clock::now() + timeout);
    for (const std::string& key : keys) {
      if (cache_.count(key) == 0) cache_.emplace(key, Fetch(key, deadline));
    }
  }

 private:
  std::vector<char> Fetch(const std::string& key, Clock::time_point deadline) {
    const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    StatusOr<std::vector<uint8_t>> v = kv_->Get(key, std::max(left, 0.0));
    if (!v.ok()) throw KvStoreError(v.status());
    return std::vector<char>(v->begin(), v->end());
  }

  KvStore* kv_;
  Clock::time_point deadline_;
  std::map<std::string, std::vector<char>> cache_;
};

bool LooksLikeTimeout(const std::string& what) {
  return what.find("imed out") != std::string::npos || what.find("imeout") != std::string::npos;
}

// Runs `fn`, turning every exception Gloo (or our store adapter) can throw
// into a Status whose message starts with `what`.
template <typename Fn>
Status CatchGloo(const std::string& what, Fn&& fn) {
  try {
    fn();
    return Status::Ok();
  } catch (const KvStoreError& e) {
    return Status(e.status.code(), what + ": " + e.status.message());
  } catch (const ::gloo::IoException& e) {
    const StatusCode code = LooksLikeTimeout(e.what()) ? StatusCode::kDeadlineExceeded : StatusCode::kUnavailable;
    return Status(code, what + ": " + e.what());
  } catch (const std::exception& e) {  // gloo::Exception, gloo::EnforceNotMet, std::bad_alloc, ...
    return Status::Internal(what + ": " + e.what());
  }
}

// Writing to a socket whose peer died raises SIGPIPE, which would kill the
// process instead of failing the collective. Ignore it unless the program
// installed its own handler (gRPC does the same).
void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
  });
}

Millis ToMillis(double seconds) {
  return Millis(std::max<int64_t>(1, std::llround(std::min(seconds, 1e9) * 1000.0)));
}

// Gloo reads 0 as "no timeout": never pass less than 1 ms.
Millis Remaining(Clock::time_point deadline) {
  return std::max(Millis(1), std::chrono::duration_cast<Millis>(deadline - Clock::now()));
}

template <typename T>
void AddInto(T* __restrict acc, const T* __restrict x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += x[i];
}

void WaitAll(const std::vector<UnboundBufferPtr>& recvs, const std::vector<UnboundBufferPtr>& sends,
             Clock::time_point deadline) {
  for (const UnboundBufferPtr& b : recvs) {
    if (!b->waitRecv(nullptr, Remaining(deadline))) throw ::gloo::IoException("recv aborted");
  }
  for (const UnboundBufferPtr& b : sends) {
    if (!b->waitSend(nullptr, Remaining(deadline))) throw ::gloo::IoException("send aborted");
  }
}

}  // namespace

struct GlooGroup::Impl {
  int rank = 0;
  int size = 1;
  Millis timeout{60000};
  std::shared_ptr<::gloo::Context> context;  // null when size == 1
  uint32_t next_tag = 0;                     // advances identically on every rank
  Status broken;                             // first failure; ok while usable
  std::vector<std::byte> scratch;            // received contributions of this rank's chunk

  std::string Where(const char* op) const {
    return std::string("gloo ") + op + " (rank " + std::to_string(rank) + " of " + std::to_string(size) + ")";
  }

  // Runs a collective body; on failure breaks the group and closes its
  // connections so that peers blocked on us fail now rather than at timeout.
  template <typename Fn>
  Status Run(const char* op, Fn&& fn) {
    if (!broken.ok()) {
      return Status::FailedPrecondition(Where(op) + ": group broken by an earlier failure: " + broken.ToString());
    }
    Status st = CatchGloo(Where(op), std::forward<Fn>(fn));
    if (!st.ok()) {
      broken = st;
      try {
        context->closeConnections();
      } catch (const std::exception&) {  // already failing; the first error is the one to report
      }
    }
    return st;
  }

  template <typename T>
  T* Scratch(int64_t elements) {
    const size_t bytes = static_cast<size_t>(elements) * sizeof(T);
    if (scratch.size() < bytes) scratch.resize(bytes);
    return reinterpret_cast<T*>(scratch.data());
  }

  // One segment of the rank-ordered all-reduce (see gloo_group.h), pipelined
  // in blocks: every transfer is posted up front, then block j of this rank's
  // chunk is summed and sent back out while later blocks are still arriving.
  // Rank p's chunk is [begin(p), begin(p + 1)); block j of any chunk covers
  // its elements [j * block, (j + 1) * block). Tags are derived from the
  // segment's base tag and the block index, so every rank agrees on them.
  template <typename T>
  void AllReduceSegment(T* seg, int64_t len, Clock::time_point deadline) {
    auto begin = [&](int r) { return len * r / size; };
    auto count = [&](int r) { return begin(r + 1) - begin(r); };
    const int64_t block = std::max<int64_t>(1, kBlockBytes / static_cast<int64_t>(sizeof(T)));
    const int64_t max_chunk = (len + size - 1) / size;
    const int64_t blocks = (max_chunk + block - 1) / block;
    // [offset, offset + n) of block j within rank r's chunk; n may be 0.
    auto block_n = [&](int r, int64_t j) { return std::clamp<int64_t>(count(r) - j * block, 0, block); };
    const uint32_t base_tag = next_tag;
    next_tag += static_cast<uint32_t>(2 * blocks);
    auto slot = [&](int64_t j, int phase) {
      return static_cast<uint64_t>(::gloo::Slot::build(kBraidSlotPrefix, base_tag + static_cast<uint32_t>(2 * j + phase)));
    };

    const int64_t my_n = count(rank);
    T* mine = seg + begin(rank);
    T* received = Scratch<T>(static_cast<int64_t>(size - 1) * my_n);
    // Where peer p's contribution to my chunk lands.
    auto from = [&](int p) { return received + (p < rank ? p : p - 1) * my_n; };
    auto post = [&](std::vector<UnboundBufferPtr>& list, T* ptr, int64_t n, int peer, uint64_t s, bool is_send) {
      list.push_back(context->createUnboundBuffer(ptr, static_cast<size_t>(n) * sizeof(T)));
      if (is_send) {
        list.back()->send(peer, s);
      } else {
        list.back()->recv(peer, s);
      }
    };

    // recv1[j]: peers' contributions to my block j; recv2: reduced blocks of
    // the other chunks; send1: my contributions to the other chunks.
    std::vector<std::vector<UnboundBufferPtr>> recv1(blocks);
    std::vector<UnboundBufferPtr> recv2, send1, send2;
    for (int64_t j = 0; j < blocks; ++j) {
      const int64_t mine_n = block_n(rank, j);
      for (int p = 0; p < size; ++p) {
        if (p == rank) continue;
        if (mine_n > 0) post(recv1[j], from(p) + j * block, mine_n, p, slot(j, 0), false);
        const int64_t theirs_n = block_n(p, j);
        if (theirs_n > 0) {
          post(recv2, seg + begin(p) + j * block, theirs_n, p, slot(j, 1), false);
          post(send1, seg + begin(p) + j * block, theirs_n, p, slot(j, 0), true);
        }
      }
    }

    for (int64_t j = 0; j < blocks; ++j) {
      const int64_t n = block_n(rank, j);
      if (n == 0) continue;
      WaitAll(recv1[j], {}, deadline);
      // Sum strictly in rank order: acc = x0; acc += x1; acc += x2; ...
      T* out = mine + j * block;
      T* acc = rank == 0 ? out : from(0) + j * block;
      for (int q = 1; q < size; ++q) {
        const T* x = q == rank ? out : from(q) + j * block;
        AddInto(acc, x, n);
      }
      if (acc != out) std::memcpy(out, acc, static_cast<size_t>(n) * sizeof(T));
      for (int p = 0; p < size; ++p) {
        if (p != rank) post(send2, out, n, p, slot(j, 1), true);
      }
    }
    WaitAll(recv2, send1, deadline);
    WaitAll({}, send2, deadline);
  }

  template <typename T>
  Status AllReduceSum(T* data, int64_t n) {
    if (n < 0 || (n > 0 && data == nullptr)) return Status::InvalidArgument(Where("all-reduce") + ": bad buffer");
    if (size == 1 || n == 0) return Status::Ok();
    return Run("all-reduce", [&] {
      const Clock::time_point deadline = Clock::now() + timeout;
      const int64_t seg_cap = (kMaxChunkBytes / static_cast<int64_t>(sizeof(T))) * size;
      for (int64_t off = 0; off < n; off += seg_cap) {
        AllReduceSegment(data + off, std::min(seg_cap, n - off), deadline);
      }
    });
  }
};

GlooGroup::GlooGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GlooGroup::~GlooGroup() = default;

StatusOr<std::unique_ptr<GlooGroup>> GlooGroup::Create(KvStore* store, int rank, int size,
                                                       const GlooGroupOptions& opt) {
  if (size < 1 || rank < 0 || rank >= size) {
    return Status::InvalidArgument("gloo group: rank " + std::to_string(rank) + " of size " + std::to_string(size));
  }
  if (!(opt.timeout_seconds > 0)) {
    return Status::InvalidArgument("gloo group: timeout_seconds must be > 0, got " +
                                   std::to_string(opt.timeout_seconds));
  }
  auto impl = std::make_unique<Impl>();
  impl->rank = rank;
  impl->size = size;
  impl->timeout = ToMillis(opt.timeout_seconds);
  if (size > 1) {
    if (store == nullptr) return Status::InvalidArgument("gloo group: null store for size " + std::to_string(size));
    IgnoreSigpipeOnce();
    const Clock::time_point deadline = Clock::now() + impl->timeout;
    Status st = CatchGloo(impl->Where("rendezvous"), [&] {
      ::gloo::transport::tcp::attr attr;
      attr.hostname = opt.hostname;
      std::shared_ptr<::gloo::transport::Device> device = ::gloo::transport::tcp::CreateDevice(attr);
      auto context = std::make_shared<::gloo::rendezvous::Context>(rank, size);
      context->setTimeout(impl->timeout);
      KvGlooStore gloo_store(store, deadline);
      context->connectFullMesh(gloo_store, device);
      impl->context = std::move(context);
    });
    RETURN_IF_ERROR(st);
  }
  return std::unique_ptr<GlooGroup>(new GlooGroup(std::move(impl)));
}

int GlooGroup::rank() const { return impl_->rank; }
int GlooGroup::size() const { return impl_->size; }

Status GlooGroup::AllReduceSum(float* data, int64_t n) { return impl_->AllReduceSum(data, n); }
Status GlooGroup::AllReduceSum(double* data, int64_t n) { return impl_->AllReduceSum(data, n); }

Status GlooGroup::Broadcast(float* data, int64_t n, int root) {
  Impl& g = *impl_;
  if (root < 0 || root >= g.size) {
    return Status::InvalidArgument(g.Where("broadcast") + ": root " + std::to_string(root));
  }
  if (n < 0 || (n > 0 && data == nullptr)) return Status::InvalidArgument(g.Where("broadcast") + ": bad buffer");
  if (g.size == 1 || n == 0) return Status::Ok();
  return g.Run("broadcast", [&] {
    ::gloo::BroadcastOptions opts(g.context);
    opts.setOutput(data, static_cast<size_t>(n));
    opts.setRoot(root);
    opts.setTag(g.next_tag++);
    opts.setTimeout(g.timeout);
    ::gloo::broadcast(opts);
  });
}

Status GlooGroup::Barrier() {
  Impl& g = *impl_;
  if (g.size == 1) return Status::Ok();
  return g.Run("barrier", [&] {
    ::gloo::BarrierOptions opts(g.context);
    opts.setTag(g.next_tag++);
    opts.setTimeout(g.timeout);
    ::gloo::barrier(opts);
  });
}

}  // namespace braid::comm
