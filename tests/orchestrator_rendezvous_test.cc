// RendezvousStore: blocking get, timeout naming the key, per-job cleanup.
#include <gtest/gtest.h>

#include <thread>

#include "services/orchestrator/rendezvous_store.h"

namespace braid::orchestrator {
namespace {

TEST(RendezvousStoreTest, GetWaitsForTheKey) {
  RendezvousStore s;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(s.Set("job/a/ucx/llm/0", "addr").ok());
  });
  StatusOr<std::string> v = s.Get("job/a/ucx/llm/0", 10);
  t.join();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, "addr");
  ASSERT_TRUE(s.Set("job/a/ucx/llm/0", "new").ok());
  EXPECT_EQ(*s.Get("job/a/ucx/llm/0", 0), "new");
}

TEST(RendezvousStoreTest, TimeoutIsDeadlineExceededNamingTheKey) {
  RendezvousStore s;
  StatusOr<std::string> v = s.Get("job/a/gloo/encoder/1", 0.05);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(v.status().message().find("'job/a/gloo/encoder/1'"), std::string::npos) << v.status().message();
  EXPECT_EQ(s.Set("", "x").code(), StatusCode::kInvalidArgument);
}

TEST(RendezvousStoreTest, DropPrefixRemovesOneJobsKeys) {
  RendezvousStore s;
  ASSERT_TRUE(s.Set("job/a/x", "1").ok());
  ASSERT_TRUE(s.Set("job/a/y/z", "2").ok());
  ASSERT_TRUE(s.Set("job/ab/x", "3").ok());
  EXPECT_EQ(s.DropPrefix("job/a/"), 2u);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_TRUE(s.Get("job/ab/x", 0).ok());
}

TEST(RendezvousStoreTest, ShutdownWakesWaiters) {
  RendezvousStore s;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    s.Shutdown();
  });
  StatusOr<std::string> v = s.Get("never", 30);
  t.join();
  EXPECT_EQ(v.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace braid::orchestrator
