// What a SQLite database looks like on disk at the instant its process is SIGKILLed: the
// main file and the WAL exactly as they are, without the checkpoint and WAL removal a
// clean close performs. take() copies them while the database is open (between
// transactions); restore(), after the owning object is destroyed, puts the copies back,
// so the next open runs SQLite's crash recovery. Power loss (unsynced pages lost) is not
// modelled: a killed process loses nothing it committed.
// Thread rules: plain value type.
#pragma once

#include <string>
#include <vector>

#include "engine/status.h"

namespace outpost::sim {

class CrashImage {
 public:
  // `tag` names the copies, so several images of one database can coexist.
  static Result<CrashImage> take(const std::string& path, const std::string& tag = "crash");
  // Replaces the database's files with the image (files absent at take() are removed).
  Status restore() const;

 private:
  std::string path_;
  std::string suffix_;
  std::vector<std::pair<std::string, bool>> files_;  // file, existed at take()
};

}  // namespace outpost::sim
