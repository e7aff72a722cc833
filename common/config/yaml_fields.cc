#include "common/config/yaml_fields.h"

#include <fstream>

#include <charconv>
#include <cmath>
#include <limits>
#include <type_traits>

namespace braid {
namespace {

Status Bad(const std::string& path, const std::string& problem) {
  return Status::InvalidArgument(path + ": " + problem);
}

bool IsQuoted(const YAML::Node& n) { return n.Tag() == "!"; }

// Plain (unquoted) scalar text, or an error naming what was there instead.
Status PlainScalar(const YAML::Node& n, const std::string& path, const char* expected,
                   std::string* text) {
  if (!n.IsScalar() || IsQuoted(n)) {
    return Bad(path, std::string("expected ") + expected + ", got " + DescribeYamlNode(n));
  }
  *text = n.Scalar();
  return Status::Ok();
}

template <typename T>
Status ReadInteger(const YAML::Node& n, const std::string& path, T* out) {
  constexpr bool kUnsigned = std::is_unsigned_v<T>;
  const char* expected = kUnsigned ? "a non-negative integer" : "an integer";
  std::string text;
  RETURN_IF_ERROR(PlainScalar(n, path, expected, &text));
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  bool well_formed = !digits.empty();
  for (size_t i = 0; i < digits.size(); ++i) {
    char c = digits[i];
    if (!(c >= '0' && c <= '9') && !(i == 0 && c == '-' && !kUnsigned && digits.size() > 1)) {
      well_formed = false;
    }
  }
  if (!well_formed) return Bad(path, std::string("expected ") + expected + ", got '" + text + "'");
  T value{};
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::result_out_of_range) return Bad(path, text + " is out of range");
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return Bad(path, std::string("expected ") + expected + ", got '" + text + "'");
  }
  *out = value;
  return Status::Ok();
}

}  // namespace

std::string DescribeYamlNode(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "an empty value";
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a sequence";
  if (IsQuoted(n)) return "the quoted string \"" + n.Scalar() + "\"";
  return "'" + n.Scalar() + "'";
}

Status YamlSyntaxError(const std::string& source, const YAML::Exception& e) {
  if (e.mark.is_null()) return Status::InvalidArgument(source + ": " + e.msg);
  return Status::InvalidArgument(source + ":" + std::to_string(e.mark.line + 1) + ":" +
                                 std::to_string(e.mark.column + 1) + ": " + e.msg);
}

StatusOr<YAML::Node> LoadYamlFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot open");
  try {
    return YAML::Load(in);
  } catch (const YAML::ParserException& e) {
    return YamlSyntaxError(path, e);
  }
}

StatusOr<YAML::Node> ParseYaml(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return YamlSyntaxError(source, e);
  }
}

std::string FormatDouble(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  // Plain decimals for the usual magnitudes (0.0002, not 2e-04); always
  // shortest round-trip, and a ".0" so floats look like floats.
  const double a = std::fabs(v);
  const bool fixed = a == 0 || (a >= 1e-6 && a < 1e16);
  char buf[400];
  auto [end, ec] = fixed ? std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed)
                         : std::to_chars(buf, buf + sizeof(buf), v);
  std::string s = ec == std::errc() ? std::string(buf, end) : std::string("nan");
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

StatusOr<YamlFields> YamlFields::Open(const YAML::Node& node, std::string path) {
  YamlFields f;
  f.path_ = std::move(path);
  if (!node.IsDefined() || node.IsNull()) return f;
  const std::string where = f.path_.empty() ? "<document>" : f.path_;
  if (!node.IsMap()) return Bad(where, "expected a mapping, got " + DescribeYamlNode(node));
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) return Bad(where, "keys must be plain strings");
    std::string key = it->first.Scalar();
    if (f.Find(key) != nullptr) return Bad(f.PathOf(key), "duplicate key");
    f.entries_.push_back({key, it->second, false});
  }
  return f;
}

YamlFields::Entry* YamlFields::Find(const std::string& key) {
  for (Entry& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::string YamlFields::PathOf(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

YAML::Node YamlFields::Raw(const std::string& key) {
  Entry* e = Find(key);
  if (e == nullptr) return YAML::Node(YAML::NodeType::Undefined);
  e->used = true;
  return e->value;
}

Status YamlFields::Int(const std::string& key, int* out) {
  YAML::Node n = Raw(key);
  return n.IsDefined() ? ReadInteger(n, PathOf(key), out) : Status::Ok();
}

Status YamlFields::IntList(const std::string& key, std::vector<int>* out) {
  YAML::Node n = Raw(key);
  if (!n.IsDefined()) return Status::Ok();
  if (!n.IsSequence()) return Bad(PathOf(key), "expected a list of integers, got " + DescribeYamlNode(n));
  std::vector<int> v(n.size());
  for (size_t i = 0; i < n.size(); ++i)
    RETURN_IF_ERROR(ReadInteger(n[i], PathOf(key) + "[" + std::to_string(i) + "]", &v[i]));
  *out = std::move(v);
  return Status::Ok();
}

Status YamlFields::Int64(const std::string& key, int64_t* out) {
  YAML::Node n = Raw(key);
  return n.IsDefined() ? ReadInteger(n, PathOf(key), out) : Status::Ok();
}

Status YamlFields::Uint64(const std::string& key, uint64_t* out) {
  YAML::Node n = Raw(key);
  return n.IsDefined() ? ReadInteger(n, PathOf(key), out) : Status::Ok();
}

Status YamlFields::Double(const std::string& key, double* out) {
  YAML::Node n = Raw(key);
  if (!n.IsDefined()) return Status::Ok();
  std::string text;
  RETURN_IF_ERROR(PlainScalar(n, PathOf(key), "a number", &text));
  std::string_view s = text;
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range) return Bad(PathOf(key), text + " is out of range");
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return Bad(PathOf(key), "expected a number, got '" + text + "'");
  }
  if (!std::isfinite(value)) return Bad(PathOf(key), "expected a finite number, got '" + text + "'");
  *out = value;
  return Status::Ok();
}

Status YamlFields::Bool(const std::string& key, bool* out) {
  YAML::Node n = Raw(key);
  if (!n.IsDefined()) return Status::Ok();
  std::string text;
  RETURN_IF_ERROR(PlainScalar(n, PathOf(key), "true or false", &text));
  if (text == "true" || text == "True" || text == "TRUE") {
    *out = true;
  } else if (text == "false" || text == "False" || text == "FALSE") {
    *out = false;
  } else {
    return Bad(PathOf(key), "expected true or false, got '" + text + "'");
  }
  return Status::Ok();
}

Status YamlFields::String(const std::string& key, std::string* out) {
  YAML::Node n = Raw(key);
  if (!n.IsDefined()) return Status::Ok();
  if (n.IsNull()) {
    out->clear();
    return Status::Ok();
  }
  if (!n.IsScalar()) return Bad(PathOf(key), "expected a string, got " + DescribeYamlNode(n));
  *out = n.Scalar();
  return Status::Ok();
}

Status YamlFields::Finish() const {
  for (const Entry& e : entries_) {
    if (!e.used) return Bad(PathOf(e.key), "unknown key");
  }
  return Status::Ok();
}

}  // namespace braid
