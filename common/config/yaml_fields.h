// YamlFields: strict, path-aware reads from one yaml-cpp mapping. Each read
// checks the type ("train.steps: expected an integer, got 'ten'"); Finish()
// reports the first key nobody read ("train.stepz: unknown key"). Shared by
// the spec parsers in this folder; keep yaml-cpp out of public headers.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace braid {

class YamlFields {
 public:
  // `node` must be a mapping; null or absent reads as an empty mapping.
  // `path` is the dotted field path of the node ("" for the document root).
  static StatusOr<YamlFields> Open(const YAML::Node& node, std::string path);

  // Readers leave *out untouched when the key is absent.
  Status Int(const std::string& key, int* out);
  Status Int64(const std::string& key, int64_t* out);
  Status Uint64(const std::string& key, uint64_t* out);
  Status Double(const std::string& key, double* out);
  Status Bool(const std::string& key, bool* out);
  Status String(const std::string& key, std::string* out);  // null reads as ""
  // A sequence of integers ("parallel.llm.layers[1]: expected an integer, got 'x'").
  Status IntList(const std::string& key, std::vector<int>* out);

  // The value of `key`, marked as read; an undefined node when absent.
  YAML::Node Raw(const std::string& key);
  std::string PathOf(const std::string& key) const;
  Status Finish() const;

 private:
  struct Entry {
    std::string key;
    YAML::Node value;
    bool used = false;
  };
  Entry* Find(const std::string& key);

  std::string path_;
  std::vector<Entry> entries_;
};

// Parses the YAML file at `path`: InvalidArgument "PATH: cannot open" or
// "PATH:LINE:COLUMN: what is wrong".
StatusOr<YAML::Node> LoadYamlFile(const std::string& path);
// The same for YAML text from `source` (a file name or "<string>").
StatusOr<YAML::Node> ParseYaml(const std::string& text, const std::string& source);
// A yaml-cpp syntax error as InvalidArgument "SOURCE:LINE:COLUMN: what"
// (1-based, as editors count), or "SOURCE: what" without a position.
Status YamlSyntaxError(const std::string& source, const YAML::Exception& e);

// "a mapping", "a sequence", "an empty value" or "'text'": what a node holds,
// for "expected X, got Y" messages.
std::string DescribeYamlNode(const YAML::Node& node);

// Shortest text that parses back to exactly `v` ("0.002", "1e-05", "3").
std::string FormatDouble(double v);

}  // namespace braid
