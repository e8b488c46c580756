// The server's blob rules, over a BlobStore and the records of a ServerStore: who may read
// a blob (a record in one of the token's scopes references it: the device names that
// record), the lazy fetch of platform media the first time a blob is asked for, bounded
// resumable uploads, and garbage collection of blobs no record references. The HTTP routes
// (transport/blob_http.h) call this; docs/protocol.md §9 is the specification.
// Thread rules: safe from any thread (the stores are); the options' fetch_media must be too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/blob.h"
#include "engine/blob_store.h"
#include "engine/schema.h"
#include "engine/server_core.h"
#include "engine/server_store.h"

namespace outpost {

struct BlobServiceOptions {
  BlobLimits limits;
  // The platform's media by URI (the Upstream's media endpoint), at most max_bytes, or an
  // error. Empty: a blob not yet stored is not_found.
  std::function<Result<std::string>(std::string_view uri, uint64_t max_bytes)> fetch_media;
};

struct BlobGcReport {
  uint64_t kept = 0;
  uint64_t removed = 0;
  uint64_t removed_bytes = 0;
  uint64_t stale_uploads = 0;
};

class BlobService {
 public:
  BlobService(ServerStore& records, BlobStore& blobs, const Schema& schema,
              BlobServiceOptions options = {});

  // Opens `hash` for `who`, who names the record referencing it: (collection, key) in the
  // scope of that collection's kind granted to `who`. A blob not stored yet is fetched from
  // the record's source URI, checked against the hash and the size bound of its kind, and
  // stored. Errors: kInvalidArgument for an unknown collection; kPermissionDenied when the
  // record does not exist or does not reference `hash` (one answer for both, so it reveals
  // nothing); kNotFound when the blob is neither stored nor fetchable; kTooLarge when the
  // media passes its bound; kUnavailable when the platform or store is unreachable.
  Result<std::unique_ptr<BlobReader>> open_for_read(const Principal& who, const BlobHash& hash,
                                                    std::string_view collection,
                                                    std::string_view key);

  // Uploads (attachments a device adds offline), one partial per user and hash.
  // The offset to resume from (the blob's size when it is already complete).
  Result<uint64_t> upload_offset(const Principal& who, const BlobHash& hash);
  // Appends a chunk; returns the new offset (== total when the blob is complete and
  // verified). Errors: kTooLarge when total passes the attachment bound; kFailedPrecondition
  // when offset is not where the upload stands; kInvalidArgument when the chunk passes total
  // or the content does not match the hash (the partial is dropped: start again).
  Result<uint64_t> upload(const Principal& who, const BlobHash& hash, uint64_t offset,
                          uint64_t total, std::string_view bytes);

  // Removes the stored blobs no record of `scopes` references and that are older than
  // `now_ms - grace_ms` (an upload waits that long for the record that will reference it),
  // and partial uploads untouched for grace_ms.
  Result<BlobGcReport> collect_garbage(const std::vector<std::string>& scopes, int64_t now_ms,
                                       int64_t grace_ms);

  const BlobLimits& limits() const { return options_.limits; }

 private:
  Result<BlobRef> find_reference(const Principal& who, const BlobHash& hash,
                                 std::string_view collection, std::string_view key);
  Status fetch_into_store(const BlobRef& ref);

  ServerStore& records_;
  BlobStore& blobs_;
  const Schema& schema_;
  BlobServiceOptions options_;
};

}  // namespace outpost
