#include "apps/outpost-sim/crash_image.h"

#include <filesystem>

namespace outpost::sim {
namespace fs = std::filesystem;

Result<CrashImage> CrashImage::take(const std::string& path, const std::string& tag) {
  CrashImage image;
  image.path_ = path;
  image.suffix_ = "." + tag + "-image";
  for (const std::string& file : {path, path + "-wal"}) {
    std::error_code ec;
    const bool exists = fs::exists(file, ec);
    if (exists) {
      fs::copy_file(file, file + image.suffix_, fs::copy_options::overwrite_existing, ec);
      if (ec) return error(ErrorCode::kIo, "crash image of " + file + ": " + ec.message());
    }
    image.files_.push_back({file, exists});
  }
  return image;
}

Status CrashImage::restore() const {
  std::error_code ec;
  for (const auto& [file, existed] : files_) {
    if (existed) {
      fs::rename(file + suffix_, file, ec);
    } else {
      fs::remove(file, ec);
    }
    if (ec) return error(ErrorCode::kIo, "restoring " + file + ": " + ec.message());
  }
  // The shared-memory index does not outlive the processes that mapped it on a reboot;
  // SQLite rebuilds it from the WAL either way.
  fs::remove(path_ + "-shm", ec);
  return Status::Ok();
}

}  // namespace outpost::sim
