#include "common/data/fortunes.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace braid {
namespace fs = std::filesystem;
namespace {

Status AppendFile(const std::string& path, size_t max_bytes, std::vector<std::string>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open");
  std::string line, cur;
  auto flush = [&] {
    std::string f = NormalizeFortune(cur);
    if (!f.empty() && f.size() <= max_bytes) out->push_back(std::move(f));
    cur.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "%") {
      flush();
    } else {
      cur += line;
      cur += '\n';
    }
  }
  if (in.bad()) return Status::DataLoss(path + ": read error");
  flush();
  return Status::Ok();
}

}  // namespace

std::string NormalizeFortune(const std::string& raw) {
  std::string out;
  out.reserve(raw.size());
  bool pending_space = false;
  for (char ch : raw) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
    if (space) {
      pending_space = true;
      continue;
    }
    if (c < 32 || c > 126) continue;  // non-printable / non-ASCII dropped
    if (pending_space && !out.empty()) out += ' ';
    pending_space = false;
    out += ch;
  }
  return out;
}

StatusOr<std::vector<std::string>> LoadFortunes(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return Status::NotFound(path + ": no such file or directory");
  std::vector<std::string> out;
  if (!fs::is_directory(path, ec)) {
    RETURN_IF_ERROR(AppendFile(path, max_bytes, &out));
    return out;
  }
  std::vector<std::string> files;
  for (const fs::directory_entry& e : fs::directory_iterator(path, ec)) {
    if (!e.is_regular_file(ec)) continue;  // skips "off" and other subdirs
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;             // hidden files
    if (e.path().has_extension()) continue;  // *.dat, *.u8, anything else with an extension
    files.push_back(e.path().string());
  }
  if (ec) return Status::DataLoss(path + ": cannot list directory: " + ec.message());
  std::sort(files.begin(), files.end());
  for (const std::string& f : files) RETURN_IF_ERROR(AppendFile(f, max_bytes, &out));
  return out;
}

}  // namespace braid
