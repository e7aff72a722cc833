#include "common/data/manifest.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

namespace braid {
namespace fs = std::filesystem;
namespace {

using json = nlohmann::json;

bool IsBlank(const std::string& s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}

// Parses an optional array-of-strings field; resolves each entry against dir.
Status ReadPathArray(const json& obj, const char* key, const fs::path& dir, const std::string& where,
                     std::vector<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end()) return Status::Ok();
  if (!it->is_array()) {
    return Status::InvalidArgument(where + "field `" + key + "`: expected array of strings");
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const json& e = (*it)[i];
    if (!e.is_string() || e.get_ref<const std::string&>().empty()) {
      return Status::InvalidArgument(where + "field `" + key + "[" + std::to_string(i) +
                                     "]`: expected array of non-empty strings");
    }
    fs::path p(e.get<std::string>());
    out->push_back(p.is_absolute() ? p.string() : (dir / p).lexically_normal().string());
  }
  return Status::Ok();
}

StatusOr<ManifestSample> ParseLine(const std::string& line, const fs::path& dir, const std::string& where) {
  json obj = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (obj.is_discarded()) return Status::InvalidArgument(where + "invalid JSON");
  if (!obj.is_object()) return Status::InvalidArgument(where + "expected a JSON object");
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string& k = it.key();
    if (k != "id" && k != "text" && k != "images" && k != "generate") {
      return Status::InvalidArgument(where + "unknown field `" + k + "` (allowed: id, text, images, generate)");
    }
  }
  ManifestSample s;
  auto id = obj.find("id");
  if (id == obj.end()) return Status::InvalidArgument(where + "field `id`: required");
  if (!id->is_number_integer() || (!id->is_number_unsigned() && id->get<int64_t>() < 0)) {
    return Status::InvalidArgument(where + "field `id`: expected non-negative integer");
  }
  if (id->is_number_unsigned() && id->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    return Status::InvalidArgument(where + "field `id`: out of range");
  }
  s.id = id->get<int64_t>();
  auto text = obj.find("text");
  if (text == obj.end()) return Status::InvalidArgument(where + "field `text`: required");
  if (!text->is_string()) return Status::InvalidArgument(where + "field `text`: expected string");
  s.text = text->get<std::string>();
  RETURN_IF_ERROR(ReadPathArray(obj, "images", dir, where, &s.images));
  RETURN_IF_ERROR(ReadPathArray(obj, "generate", dir, where, &s.generate));
  return s;
}

}  // namespace

StatusOr<std::vector<ManifestSample>> LoadJsonlManifest(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return Status::NotFound(path + ": no such manifest file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open");
  const fs::path dir = fs::path(path).parent_path();
  std::vector<ManifestSample> out;
  std::unordered_map<int64_t, int> first_line;  // id -> line it appeared on
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (IsBlank(line)) continue;
    const std::string where = path + ":" + std::to_string(lineno) + ": ";
    ASSIGN_OR_RETURN(ManifestSample s, ParseLine(line, dir, where));
    auto [it, inserted] = first_line.emplace(s.id, lineno);
    if (!inserted) {
      return Status::InvalidArgument(where + "field `id`: duplicate id " + std::to_string(s.id) +
                                     " (first on line " + std::to_string(it->second) + ")");
    }
    out.push_back(std::move(s));
  }
  if (in.bad()) return Status::DataLoss(path + ": read error");
  return out;
}

}  // namespace braid
