// Workload synthesiser and samples-file reader: the synthetic shapes land on
// the targets docs/REORDER.md documents, they are deterministic, and every
// malformed samples file gets the exact "<source>:<line>: <field>: <problem>".
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/reorder/workload.h"

namespace braid::reorder {
namespace {

constexpr int64_t kCount = 20000;
constexpr double kTolerance = 0.15;  // relative, on every mean

std::vector<WorkSample> Synth(const std::string& name, int64_t count = kCount, uint64_t seed = 7) {
  auto r = SynthesizeWorkload(name, count, seed);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : std::vector<WorkSample>{};
}

struct Means {
  double images = 0, text_tokens = 0, gen_images = 0;
};

Means MeasureMeans(const std::vector<WorkSample>& samples) {
  Means m;
  for (const WorkSample& w : samples) {
    m.images += w.images;
    m.text_tokens += double(w.text_tokens);
    m.gen_images += w.gen_images;
  }
  const double n = double(samples.size());
  return {m.images / n, m.text_tokens / n, m.gen_images / n};
}

double Fraction(const std::vector<WorkSample>& samples, bool (*pred)(const WorkSample&)) {
  int64_t hits = 0;
  for (const WorkSample& w : samples) hits += pred(w) ? 1 : 0;
  return double(hits) / double(samples.size());
}

int32_t MaxImages(const std::vector<WorkSample>& samples) {
  int32_t most = 0;
  for (const WorkSample& w : samples) most = std::max(most, w.images);
  return most;
}

// The documented targets (docs/REORDER.md, "Workloads").
struct Target {
  const char* name;
  Means means;
};
const Target kTargets[] = {
    {"llava", {0.94, 130, 0}},
    {"obelics", {2.5, 815, 0}},
    {"mmc4", {5.6, 425, 0}},
    {"laion", {0.5, 27, 0.5}},
    // 0.4 llava + 0.2 obelics + 0.1 mmc4 + 0.3 laion.
    {"mixed",
     {0.4 * 0.94 + 0.2 * 2.5 + 0.1 * 5.6 + 0.3 * 0.5, 0.4 * 130 + 0.2 * 815 + 0.1 * 425 + 0.3 * 27,
      0.3 * 0.5}},
};

void ExpectRelativelyNear(double measured, double target, const char* what) {
  if (target == 0) {
    EXPECT_EQ(measured, 0) << what;
    return;
  }
  EXPECT_NEAR(measured, target, kTolerance * target) << what;
}

TEST(SynthesizeWorkload, MeansLandOnDocumentedTargets) {
  for (const Target& t : kTargets) {
    SCOPED_TRACE(t.name);
    const Means m = MeasureMeans(Synth(t.name));
    std::printf("%-8s images %.3f (target %.3f)  text_tokens %.1f (target %.1f)  gen_images %.3f (target %.3f)\n",
                t.name, m.images, t.means.images, m.text_tokens, t.means.text_tokens, m.gen_images,
                t.means.gen_images);
    ExpectRelativelyNear(m.images, t.means.images, "images");
    ExpectRelativelyNear(m.text_tokens, t.means.text_tokens, "text_tokens");
    ExpectRelativelyNear(m.gen_images, t.means.gen_images, "gen_images");
  }
}

TEST(SynthesizeWorkload, EverySampleIsWellFormed) {
  for (const std::string& name : WorkloadNames()) {
    SCOPED_TRACE(name);
    const std::vector<WorkSample> samples = Synth(name, 5000);
    ASSERT_EQ(samples.size(), 5000u);
    for (size_t i = 0; i < samples.size(); ++i) {
      const WorkSample& w = samples[i];
      ASSERT_EQ(w.id, int64_t(i));
      ASSERT_GE(w.images, 0);
      ASSERT_EQ(w.image_tokens, 576);
      ASSERT_GT(w.text_tokens, 0);
      ASSERT_GE(w.gen_images, 0);
      ASSERT_EQ(w.llm_tokens(), w.text_tokens + 576 * int64_t(w.images));
    }
  }
}

TEST(SynthesizeWorkload, LlavaIsSixPercentTextOnlyElseOneImage) {
  const std::vector<WorkSample> s = Synth("llava");
  EXPECT_NEAR(Fraction(s, [](const WorkSample& w) { return w.images == 0; }), 0.06, 0.015);
  EXPECT_EQ(Fraction(s, [](const WorkSample& w) { return w.images > 1; }), 0);
  // Sequences fit LLaVA-1.5's 2048-token context.
  for (const WorkSample& w : s) ASSERT_LE(w.llm_tokens(), 2048);
}

TEST(SynthesizeWorkload, InterleavedDocumentsAreHeavyTailed) {
  const std::vector<WorkSample> obelics = Synth("obelics");
  EXPECT_GT(Fraction(obelics, [](const WorkSample& w) { return w.images == 0; }), 0.01);
  EXPECT_LE(MaxImages(obelics), 30);
  EXPECT_GE(MaxImages(obelics), 20);
  for (const WorkSample& w : obelics) ASSERT_LE(w.text_tokens, 8192);
  const std::vector<WorkSample> mmc4 = Synth("mmc4");
  EXPECT_GE(MaxImages(mmc4), 25);
  EXPECT_LE(MaxImages(mmc4), 64);
}

TEST(SynthesizeWorkload, LaionIsHalfUnderstandingHalfGeneration) {
  const std::vector<WorkSample> s = Synth("laion");
  for (const WorkSample& w : s) ASSERT_EQ(w.images + w.gen_images, 1);
  EXPECT_NEAR(Fraction(s, [](const WorkSample& w) { return w.gen_images == 1; }), 0.5, 0.02);
}

TEST(SynthesizeWorkload, MixedHoldsEveryKind) {
  const std::vector<WorkSample> s = Synth("mixed");
  EXPECT_GT(Fraction(s, [](const WorkSample& w) { return w.images == 0 && w.gen_images == 0; }), 0);
  EXPECT_GT(Fraction(s, [](const WorkSample& w) { return w.images == 1; }), 0);
  EXPECT_GT(Fraction(s, [](const WorkSample& w) { return w.images > 5; }), 0);
  EXPECT_GT(Fraction(s, [](const WorkSample& w) { return w.gen_images > 0; }), 0);
}

bool SameSamples(const std::vector<WorkSample>& a, const std::vector<WorkSample>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id || a[i].images != b[i].images || a[i].image_tokens != b[i].image_tokens ||
        a[i].text_tokens != b[i].text_tokens || a[i].gen_images != b[i].gen_images) {
      return false;
    }
  }
  return true;
}

TEST(SynthesizeWorkload, DeterministicForNameCountSeed) {
  for (const std::string& name : WorkloadNames()) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(SameSamples(Synth(name, 1000, 42), Synth(name, 1000, 42)));
    EXPECT_FALSE(SameSamples(Synth(name, 1000, 42), Synth(name, 1000, 43)));
  }
  // Names get their own streams: obelics and mmc4 share a shape family.
  EXPECT_FALSE(SameSamples(Synth("obelics", 1000, 42), Synth("mmc4", 1000, 42)));
}

TEST(SynthesizeWorkload, RejectsUnknownNameListingKnownOnes) {
  auto r = SynthesizeWorkload("coyo", 10, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("coyo"), std::string::npos);
  for (const std::string& name : WorkloadNames()) EXPECT_NE(r.status().message().find(name), std::string::npos);
}

TEST(SynthesizeWorkload, RejectsCountBelowOne) {
  for (int64_t count : {int64_t(0), int64_t(-5)}) {
    auto r = SynthesizeWorkload("llava", count, 1);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  auto one = SynthesizeWorkload("mixed", 1, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
}

// ---- ParseSamplesJsonl ------------------------------------------------------

std::string ParseError(const std::string& text) {
  auto r = ParseSamplesJsonl(text, "s.jsonl");
  if (r.ok()) return "(parsed)";
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

// A valid line with one field replaced by `value` (or dropped if empty).
std::string LineWith(const std::string& field, const std::string& value, int64_t id = 1) {
  const char* fields[] = {"id", "images", "image_tokens", "text_tokens", "gen_images"};
  const std::string defaults[] = {std::to_string(id), "2", "576", "100", "0"};
  std::string out = "{";
  for (int i = 0; i < 5; ++i) {
    const bool replaced = field == fields[i];
    if (replaced && value.empty()) continue;
    if (out.size() > 1) out += ", ";
    out += std::string("\"") + fields[i] + "\": " + (replaced ? value : defaults[i]);
  }
  return out + "}";
}

TEST(ParseSamplesJsonl, ReadsAGoodFile) {
  const std::string text =
      "{\"id\": 7, \"images\": 2, \"image_tokens\": 576, \"text_tokens\": 100, \"gen_images\": 0}\n"
      "\n"
      "   \t \r\n"
      "{\"gen_images\": 1, \"text_tokens\": 27, \"image_tokens\": 256, \"images\": 0, \"id\": 3, "
      "\"source\": \"laion\"}\r\n"
      "{\"id\": -4, \"images\": 0, \"image_tokens\": 0, \"text_tokens\": 0, \"gen_images\": 0}";
  auto r = ParseSamplesJsonl(text, "s.jsonl");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  const WorkSample& a = (*r)[0];
  EXPECT_EQ(a.id, 7);
  EXPECT_EQ(a.images, 2);
  EXPECT_EQ(a.image_tokens, 576);
  EXPECT_EQ(a.text_tokens, 100);
  EXPECT_EQ(a.gen_images, 0);
  EXPECT_EQ(a.llm_tokens(), 100 + 2 * 576);
  const WorkSample& b = (*r)[1];  // any key order; unknown keys ignored
  EXPECT_EQ(b.id, 3);
  EXPECT_EQ(b.images, 0);
  EXPECT_EQ(b.image_tokens, 256);
  EXPECT_EQ(b.text_tokens, 27);
  EXPECT_EQ(b.gen_images, 1);
  EXPECT_EQ((*r)[2].id, -4);  // ids are labels: any int64, only unique
}

TEST(ParseSamplesJsonl, RoundTripsSynthesizedSamples) {
  const std::vector<WorkSample> samples = Synth("mixed", 200);
  std::string text;
  for (const WorkSample& w : samples) {
    text += "{\"id\": " + std::to_string(w.id) + ", \"images\": " + std::to_string(w.images) +
            ", \"image_tokens\": " + std::to_string(w.image_tokens) + ", \"text_tokens\": " +
            std::to_string(w.text_tokens) + ", \"gen_images\": " + std::to_string(w.gen_images) + "}\n";
  }
  auto r = ParseSamplesJsonl(text, "s.jsonl");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(SameSamples(*r, samples));
}

TEST(ParseSamplesJsonl, NoSamples) {
  EXPECT_EQ(ParseError(""), "s.jsonl: no samples");
  EXPECT_EQ(ParseError("\n  \n\t\r\n"), "s.jsonl: no samples");
}

TEST(ParseSamplesJsonl, NotJson) {
  const std::string msg = ParseError(LineWith("", "") + "\n{\"id\": 1,\n");
  const std::string prefix = "s.jsonl:2: not JSON: ";
  EXPECT_EQ(msg.substr(0, prefix.size()), prefix) << msg;
  EXPECT_GT(msg.size(), prefix.size()) << "carries the parser's message";
  EXPECT_EQ(ParseError("{\"id\": 1} trailing").substr(0, 21), "s.jsonl:1: not JSON: ");
}

TEST(ParseSamplesJsonl, NotAnObject) {
  EXPECT_EQ(ParseError("[1, 2]"), "s.jsonl:1: not a JSON object, got array");
  EXPECT_EQ(ParseError("\n42"), "s.jsonl:2: not a JSON object, got number");
}

TEST(ParseSamplesJsonl, MissingFields) {
  for (const char* f : {"id", "images", "image_tokens", "text_tokens", "gen_images"}) {
    EXPECT_EQ(ParseError(LineWith("", "", 9) + "\n\n" + LineWith(f, "")), "s.jsonl:3: " + std::string(f) + ": missing");
  }
}

TEST(ParseSamplesJsonl, NonIntegerFields) {
  for (const char* f : {"id", "images", "image_tokens", "text_tokens", "gen_images"}) {
    const std::string field = f;
    EXPECT_EQ(ParseError(LineWith(f, "\"3\"")), "s.jsonl:1: " + field + ": must be an integer, got \"3\"");
    EXPECT_EQ(ParseError(LineWith(f, "2.5")), "s.jsonl:1: " + field + ": must be an integer, got 2.5");
    EXPECT_EQ(ParseError(LineWith(f, "2.0")), "s.jsonl:1: " + field + ": must be an integer, got 2.0");
    EXPECT_EQ(ParseError(LineWith(f, "true")), "s.jsonl:1: " + field + ": must be an integer, got true");
    EXPECT_EQ(ParseError(LineWith(f, "null")), "s.jsonl:1: " + field + ": must be an integer, got null");
    EXPECT_EQ(ParseError(LineWith(f, "[1]")), "s.jsonl:1: " + field + ": must be an integer, got [1]");
  }
}

TEST(ParseSamplesJsonl, NegativeCounts) {
  for (const char* f : {"images", "image_tokens", "text_tokens", "gen_images"}) {
    EXPECT_EQ(ParseError(LineWith("", "", 1) + "\n" + LineWith("", "", 2) + "\n" + LineWith(f, "-1", 3)),
              "s.jsonl:3: " + std::string(f) + ": must be >= 0, got -1");
  }
}

TEST(ParseSamplesJsonl, OutOfRangeValues) {
  for (const char* f : {"images", "image_tokens", "gen_images"}) {
    EXPECT_EQ(ParseError(LineWith(f, "2147483648")),
              "s.jsonl:1: " + std::string(f) + ": must be <= 2147483647, got 2147483648");
  }
  EXPECT_EQ(ParseError(LineWith("id", "18446744073709551615")),
            "s.jsonl:1: id: must be <= 9223372036854775807, got 18446744073709551615");
  EXPECT_EQ(ParseError(LineWith("text_tokens", "9223372036854775807")),
            "s.jsonl:1: text_tokens: too large, text plus image tokens overflow int64");
}

TEST(ParseSamplesJsonl, DuplicateIds) {
  const std::string text = LineWith("", "", 1) + "\n" + LineWith("", "", 7) + "\n" + LineWith("", "", 8) + "\n\n" +
                           LineWith("", "", 7) + "\n";
  EXPECT_EQ(ParseError(text), "s.jsonl:5: id: duplicate id 7 (first on line 2)");
}

}  // namespace
}  // namespace braid::reorder
