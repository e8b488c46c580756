// Blobs in the simulation: users play voicemail on their devices. A play fetches the audio
// from the real BlobService (over the real server store and a DirBlobStore in the run's
// directory) into the device's real BlobCache in small ranges, appending to the partial
// file, and may be cut off after any range (the app killed mid-download): the next play
// resumes from the partial's length. Pieces are copied without the simulated network (the
// records' protocol is what that models); the blob rules and files are the real ones.
// Invariant (6), checked at quiescence: every blob a device holds verifies, and every blob
// its records reference is on the device or fetchable with its own token.
// Draws come from their own seeded stream, so runs without plays trace as before.
// Thread rules: one object per simulation, used by its single thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "adapters/dir_blob_store.h"
#include "adapters/sim_random.h"
#include "apps/outpost-sim/checker.h"
#include "apps/outpost-sim/device.h"
#include "apps/outpost-sim/server.h"
#include "apps/outpost-sim/trace.h"
#include "engine/blob_service.h"

namespace outpost::sim {

struct BlobStats {
  uint64_t plays = 0;
  uint64_t downloads_cut = 0;  // a play cut off mid-download (resumed by a later one)
  uint64_t resumed = 0;        // a download that started from a partial
  uint64_t bytes = 0;
};

class SimBlobs {
 public:
  // Ranges of this many bytes: a voicemail of the simulator takes several.
  static constexpr uint64_t kPiece = 16 * 1024;

  SimBlobs(std::string dir, uint64_t seed, Trace& trace)
      : dir_(std::move(dir)), random_(seed), trace_(trace) {}
  Status open();

  // With probability `chance`, a user plays a voicemail on a random alive device: its audio
  // fetched into the device's cache.
  Status step(std::vector<std::unique_ptr<SimDevice>>& devices, SimServer& server, double chance);
  const BlobStats& stats() const { return stats_; }

  // Genesys mode (decision 064): the platform's media the blob service fetches on demand
  // (genesys-media: URIs; sim-media: ones stay the simulated platform's), and the recordings
  // the adapter downloaded, stored as the server's media_fetched stores them.
  using MediaSource = std::function<Result<std::string>(std::string_view uri, uint64_t max_bytes)>;
  void set_media_source(MediaSource source) { media_source_ = std::move(source); }
  Status put(const BlobHash& hash, std::string_view bytes) { return store_->put(hash, bytes); }

  // Checker self-test: appends a byte to every complete blob in the devices' caches.
  void damage_caches(std::vector<std::unique_ptr<SimDevice>>& devices);

  // Invariant (6) for every device (dead ones are read from their files).
  std::vector<Violation> check(std::vector<std::unique_ptr<SimDevice>>& devices, SimServer& server);

 private:
  Status fetch(SimDevice& device, BlobService& service, const std::string& voicemail_id,
               const BlobHash& hash);
  BlobService service(SimServer& server);
  std::string cache_dir(const SimDevice& device) const;

  std::string dir_;
  SimRandom random_;
  Trace& trace_;
  std::unique_ptr<DirBlobStore> store_;
  BlobStats stats_;
  MediaSource media_source_;
};

}  // namespace outpost::sim
