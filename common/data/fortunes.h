// Fortune-cookie text corpus (the `fortune` program's data files).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace braid {

// Loads fortunes from one file, or from a directory (every regular file without
// an extension, skipping *.dat, *.u8 and the "off" subdir; sorted file names).
// Fortunes are separated by lines holding only "%". Keeps printable ASCII
// (32..126) and '\n', collapses runs of whitespace into one space, trims, and
// drops empty fortunes and ones longer than max_bytes after normalisation.
StatusOr<std::vector<std::string>> LoadFortunes(const std::string& path, size_t max_bytes);

// The normalisation above, applied to one fortune (exposed for tests).
std::string NormalizeFortune(const std::string& raw);

}  // namespace braid
