// The server's blob store on a directory: DIR/sha256/<2 hex>/<64 hex> holds complete blobs,
// DIR/uploads/<owner>/<64 hex>.part the partial uploads, DIR/tmp the files being written.
// A blob appears by an atomic rename after its bytes were hashed and fsynced, so a reader
// never sees half a blob and a crash leaves at most a temp file. Several outpost-server
// processes may share the directory (a shared file system beside PostgreSQL, decision 027):
// identical content has one name, so two writers of a blob write the same bytes, and
// appends to one partial take an flock.
// Thread rules: safe from any thread and process.
#pragma once

#include <memory>
#include <string>

#include "engine/blob_store.h"

namespace outpost {

class DirBlobStore final : public BlobStore {
 public:
  // Creates the directories when missing. Errors: kIo.
  static Result<std::unique_ptr<DirBlobStore>> open(const std::string& dir);

  Result<std::optional<uint64_t>> stat(const BlobHash& hash) override;
  Result<std::unique_ptr<BlobReader>> open(const BlobHash& hash) override;
  Status put(const BlobHash& hash, std::string_view bytes) override;
  Result<uint64_t> upload_offset(const std::string& owner, const BlobHash& hash) override;
  Result<uint64_t> append_upload(const std::string& owner, const BlobHash& hash, uint64_t offset,
                                 uint64_t total, std::string_view bytes) override;
  Result<std::vector<StoredBlob>> list() override;
  Status remove(const BlobHash& hash) override;
  Result<uint64_t> remove_stale_uploads(int64_t older_than_ms) override;

  // Where a complete blob lives (whether or not it exists).
  std::string blob_path(const BlobHash& hash) const;

 private:
  explicit DirBlobStore(std::string dir) : dir_(std::move(dir)) {}
  Result<std::string> partial_path(const std::string& owner, const BlobHash& hash) const;
  // Hashes the file at `from`; renames it to the blob's place if it matches.
  Status publish(const std::string& from, const BlobHash& hash);

  std::string dir_;
};

}  // namespace outpost
