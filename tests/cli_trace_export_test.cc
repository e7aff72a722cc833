// braid trace's conversion of timeline.jsonl into a Chrome trace (pure).
#include "cli/trace_export.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <limits>
#include <set>

namespace braid::cli {
namespace {

using json = nlohmann::json;

// Two steps; step 1 starts 0.5 s after step 0. Two LLM ranks, one encoder.
const char* kTimeline =
    R"({"step":0,"start_unix":1000.0,"ranks":[)"
    R"({"module":"encoder","rank":0,"start":0.0,"seconds":0.3,"spans":[["compute",0,0.0,0.1],["send",0,0.1,0.01]]},)"
    R"({"module":"llm","rank":0,"start":0.05,"seconds":0.4,"spans":[["recv_wait",0,0.0,0.05],["compute",0,0.05,0.2]]},)"
    R"({"module":"llm","rank":1,"start":0.05,"seconds":0.4,"spans":[["allreduce",-1,0.3,0.02]]}]})"
    "\n"
    R"({"step":1,"start_unix":1000.5,"ranks":[)"
    R"({"module":"encoder","rank":0,"start":0.0,"seconds":0.3,"spans":[["compute",0,0.0,0.1]]}]})"
    "\n";

json Events(const std::string& trace) { return json::parse(trace)["traceEvents"]; }

TEST(TraceExport, OneTrackPerRankAndSpansOnACommonAxis) {
  StatusOr<std::string> t = TimelineToChromeTrace(kTimeline, 0, 1);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  std::set<std::pair<int, int>> tracks;
  std::set<std::string> kinds;
  double llm_compute_ts = -1, step1_compute_ts = -1;
  for (const json& e : Events(*t)) {
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks.insert({e["pid"].get<int>(), e["tid"].get<int>()});
    if (e["ph"] != "X" || e["cat"] == "step") continue;
    kinds.insert(e["cat"].get<std::string>());
    if (e["cat"] == "compute" && e["pid"] == 2) llm_compute_ts = e["ts"].get<double>();
    if (e["cat"] == "compute" && e["args"]["step"] == 1) step1_compute_ts = e["ts"].get<double>();
  }
  EXPECT_EQ(tracks.size(), 3u);  // encoder 0, llm 0, llm 1
  EXPECT_EQ(kinds, (std::set<std::string>{"compute", "send", "recv_wait", "allreduce"}));
  EXPECT_NEAR(llm_compute_ts, (0.05 + 0.05) * 1e6, 1e-3);  // rank start + span start
  EXPECT_NEAR(step1_compute_ts, 0.5 * 1e6, 1e-3);          // step 1's start_unix - step 0's
}

TEST(TraceExport, StepRangeSelectsSteps) {
  StatusOr<std::string> t = TimelineToChromeTrace(kTimeline, 1, 1);
  ASSERT_TRUE(t.ok());
  int x = 0;
  for (const json& e : Events(*t))
    if (e["ph"] == "X") {
      EXPECT_EQ(e["name"] == "step 1" || e["args"]["step"] == 1, true);
      ++x;
    }
  EXPECT_EQ(x, 2);  // the step event and its one span
  StatusOr<std::string> none = TimelineToChromeTrace(kTimeline, 5, 9);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("steps 0..1"), std::string::npos) << none.status().message();
}

TEST(TraceExport, MalformedLinesNameTheLine) {
  StatusOr<std::string> t = TimelineToChromeTrace(std::string(kTimeline) + "{\"step\":2,\"ranks\":[{}]}\n", 0, 9);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("line 3"), std::string::npos) << t.status().message();
  EXPECT_FALSE(TimelineToChromeTrace("not json\n", 0, 9).ok());
}

TEST(TraceExport, ParseStepRange) {
  int64_t a = 0, b = 0;
  ASSERT_TRUE(ParseStepRange("3:7", &a, &b).ok());
  EXPECT_EQ(a, 3);
  EXPECT_EQ(b, 7);
  ASSERT_TRUE(ParseStepRange("4", &a, &b).ok());
  EXPECT_EQ(b, 4);
  ASSERT_TRUE(ParseStepRange("2:", &a, &b).ok());
  EXPECT_EQ(b, std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(ParseStepRange("7:3", &a, &b).ok());
  EXPECT_FALSE(ParseStepRange("x", &a, &b).ok());
  EXPECT_FALSE(ParseStepRange(":3", &a, &b).ok());
}

}  // namespace
}  // namespace braid::cli
