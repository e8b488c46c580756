// The device's blob cache: a directory beside the replica holding complete blobs by hash
// (`<64 hex>`) and downloads in progress (`<64 hex>.part`, resumed from their length after
// an app kill). A blob is hashed before it is handed out: a file that does not verify is
// deleted, never used. The cache stays under a size cap by evicting the least recently used
// blobs (a use touches the file's mtime), except the pinned ones the caller names (unheard
// voicemail of today: transport/device_blobs.h). Several processes may share the directory:
// a blob appears by rename, and a file that vanished under a reader is a miss.
// Thread rules: safe from any thread (the state is the directory).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/blob.h"
#include "engine/status.h"

namespace outpost {

inline constexpr uint64_t kDefaultBlobCacheBytes = 256ull * 1024 * 1024;

struct BlobCacheOptions {
  std::string dir;
  uint64_t max_bytes = kDefaultBlobCacheBytes;  // complete blobs; partials are not counted
};

struct CachedBlob {
  BlobHash hash;
  uint64_t size = 0;
  int64_t used_ms = 0;  // last use (file mtime)
};

struct EvictionReport {
  uint64_t evicted = 0;
  uint64_t evicted_bytes = 0;
  uint64_t kept_bytes = 0;  // what stays, pinned blobs included (may pass the cap)
};

class BlobCache {
 public:
  // Creates the directory when missing. Errors: kIo.
  static Result<std::unique_ptr<BlobCache>> open(BlobCacheOptions options);

  // The path of the complete blob after hashing it (and marking it used), or nullopt when
  // it is not cached. A file whose bytes do not hash to `hash` is deleted (nullopt).
  // Errors: kIo.
  Result<std::optional<std::string>> find(const BlobHash& hash);
  // Whether a complete blob file is there (not verified, not touched).
  bool contains(const BlobHash& hash) const;

  // Downloads in progress: the file and how many bytes it holds.
  std::string partial_path(const BlobHash& hash) const;
  uint64_t partial_size(const BlobHash& hash) const;
  Status drop_partial(const BlobHash& hash);
  // The partial is complete: hash it and make it the blob, or delete it. Errors:
  // kCorrupt when the bytes do not hash to `hash` (the partial is gone: fetch again); kIo.
  Status complete(const BlobHash& hash);
  // The same when the caller hashed the partial's bytes as it wrote them (`actual`, one
  // streaming pass, decision 031): a match is synced and renamed without reading it again;
  // a mismatch deletes the partial (kCorrupt). Errors: kIo.
  Status complete_hashed(const BlobHash& hash, const BlobHash& actual);
  // Stores bytes the device made itself (an attachment it will upload). Errors:
  // kInvalidArgument when they do not hash to `hash`; kIo.
  Status put(const BlobHash& hash, std::string_view bytes);

  // Complete blobs, least recently used first.
  Result<std::vector<CachedBlob>> list() const;
  // Evicts least recently used blobs not in `pinned` until the cache is under its cap.
  Result<EvictionReport> evict(const std::set<BlobHash>& pinned);
  // Hashes every complete blob; those that do not verify are deleted and returned.
  Result<std::vector<BlobHash>> verify_all();

  const BlobCacheOptions& options() const { return options_; }
  std::string path_of(const BlobHash& hash) const;

 private:
  explicit BlobCache(BlobCacheOptions options) : options_(std::move(options)) {}
  BlobCacheOptions options_;
};

// Hashes a file in pieces. Errors: kIo (kNotFound when it does not exist).
Result<BlobHash> hash_file(const std::string& path);

}  // namespace outpost
