// SampleFromManifest: user manifest entry -> Sample (declared in task_mixer.h).
#include <algorithm>

#include "common/data/image_io.h"
#include "common/data/task_mixer.h"
#include "common/data/tokenizer.h"

namespace braid {
namespace {

constexpr std::string_view kImageMarker = "<image>";

StatusOr<std::vector<float>> LoadResized(const std::string& path, int size, int64_t id, const char* field) {
  StatusOr<GrayImage> img = LoadImageFile(path);
  if (!img.ok()) {
    return Status(img.status().code(),
                  "manifest sample " + std::to_string(id) + ", field `" + field + "`: " + img.status().message());
  }
  return ResizeBilinear(*img, size, size).pixels;
}

}  // namespace

StatusOr<Sample> SampleFromManifest(const ManifestSample& m, const MixConfig& cfg) {
  const int size = std::max(cfg.image_size, 1);
  Sample s;
  s.id = m.id;
  s.task = "manifest";
  for (const std::string& p : m.images) {
    ASSIGN_OR_RETURN(std::vector<float> px, LoadResized(p, size, m.id, "images"));
    s.images.push_back(std::move(px));
    s.image_labels.push_back(-1);
  }
  for (const std::string& p : m.generate) {
    ASSIGN_OR_RETURN(std::vector<float> px, LoadResized(p, size, m.id, "generate"));
    s.gen_targets.push_back(std::move(px));
    s.gen_labels.push_back(-1);
  }

  // Split the text on markers.
  std::vector<std::string_view> pieces;
  std::string_view rest = m.text;
  for (size_t pos; (pos = rest.find(kImageMarker)) != std::string_view::npos;) {
    pieces.push_back(rest.substr(0, pos));
    rest.remove_prefix(pos + kImageMarker.size());
  }
  pieces.push_back(rest);
  const size_t markers = pieces.size() - 1;
  if (markers > 0 && markers != m.images.size()) {
    return Status::InvalidArgument("manifest sample " + std::to_string(m.id) + ": text has " +
                                   std::to_string(markers) + " <image> markers but `images` lists " +
                                   std::to_string(m.images.size()) + " files");
  }

  s.tokens.push_back(tok::kBos);
  if (markers == 0) {
    for (size_t i = 0; i < m.images.size(); ++i) AppendImageBlock(&s.tokens, cfg.patches_per_image);
    AppendText(&s.tokens, m.text);
  } else {
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (i > 0) AppendImageBlock(&s.tokens, cfg.patches_per_image);
      AppendText(&s.tokens, std::string(pieces[i]));
    }
  }
  for (size_t i = 0; i < m.generate.size(); ++i) AppendGenSlots(&s.tokens, cfg.gen_slots);
  s.tokens.push_back(tok::kEos);
  FillTargets(&s);
  return s;
}

}  // namespace braid
