#include "engine/blob_service.h"

#include <set>

namespace outpost {
namespace {

Status not_referenced() {
  return error(ErrorCode::kPermissionDenied,
               "no record in the token's scopes references this blob under that name");
}

std::string owner_of(const Principal& who) {
  return who.tenant + "/" + who.user;
}

}  // namespace

BlobService::BlobService(ServerStore& records, BlobStore& blobs, const Schema& schema,
                         BlobServiceOptions options)
    : records_(records), blobs_(blobs), schema_(schema), options_(std::move(options)) {}

Result<BlobRef> BlobService::find_reference(const Principal& who, const BlobHash& hash,
                                            std::string_view collection, std::string_view key) {
  const Collection* found = schema_.find(std::string(collection));
  if (found == nullptr) {
    return error(ErrorCode::kInvalidArgument,
                 "unknown collection '" + std::string(collection) + "' in the blob reference");
  }
  const std::string scope = found->scope == SCOPE_ORG ? who.org_scope() : who.user_scope();
  OUTPOST_ASSIGN_OR_RETURN(auto stored,
                           records_.get(scope, std::string(collection), std::string(key)));
  if (!stored) return not_referenced();
  auto record = found->new_record();
  if (!record->ParseFromString(stored->body)) return not_referenced();
  for (BlobRef& ref : blob_refs(*record)) {
    if (ref.hash == hash) return std::move(ref);
  }
  return not_referenced();
}

Status BlobService::fetch_into_store(const BlobRef& ref) {
  if (!options_.fetch_media || ref.source_uri.empty()) {
    return error(ErrorCode::kNotFound, "the blob is not stored and has no source to fetch");
  }
  const uint64_t bound = options_.limits.max_for(ref.kind);
  OUTPOST_ASSIGN_OR_RETURN(std::string bytes, options_.fetch_media(ref.source_uri, bound));
  if (bytes.size() > bound) {
    return error(ErrorCode::kTooLarge, "the platform's media passes the blob bound");
  }
  Status stored = blobs_.put(ref.hash, bytes);
  if (stored.code() == ErrorCode::kInvalidArgument) {
    // The platform's bytes are not those the record names: nothing is stored.
    return error(ErrorCode::kNotFound, "the platform's media does not match the record's hash");
  }
  return stored;
}

Result<std::unique_ptr<BlobReader>> BlobService::open_for_read(const Principal& who,
                                                               const BlobHash& hash,
                                                               std::string_view collection,
                                                               std::string_view key) {
  OUTPOST_ASSIGN_OR_RETURN(BlobRef ref, find_reference(who, hash, collection, key));
  auto reader = blobs_.open(hash);
  if (reader.ok() || reader.status().code() != ErrorCode::kNotFound) return reader;
  OUTPOST_RETURN_IF_ERROR(fetch_into_store(ref));
  return blobs_.open(hash);
}

Result<uint64_t> BlobService::upload_offset(const Principal& who, const BlobHash& hash) {
  return blobs_.upload_offset(owner_of(who), hash);
}

Result<uint64_t> BlobService::upload(const Principal& who, const BlobHash& hash, uint64_t offset,
                                     uint64_t total, std::string_view bytes) {
  if (total > options_.limits.max_attachment_bytes) {
    return error(
        ErrorCode::kTooLarge,
        "an upload is at most " + std::to_string(options_.limits.max_attachment_bytes) + " bytes");
  }
  if (total == 0) return error(ErrorCode::kInvalidArgument, "an upload has at least one byte");
  return blobs_.append_upload(owner_of(who), hash, offset, total, bytes);
}

Result<BlobGcReport> BlobService::collect_garbage(const std::vector<std::string>& scopes,
                                                  int64_t now_ms, int64_t grace_ms) {
  // Mark: every blob a current record of the scopes references. The snapshot reads each
  // scope's records; only collections that can reference blobs are decoded.
  std::set<BlobHash> referenced;
  for (const std::string& scope : scopes) {
    SnapshotPosition after;
    for (;;) {
      OUTPOST_ASSIGN_OR_RETURN(SnapshotPage page,
                               records_.read_snapshot(scope, after, 2000, 4 * 1024 * 1024));
      for (const SnapshotRecord& item : page.records) {
        const Collection* collection = schema_.find(item.record.collection);
        if (collection == nullptr || !may_reference_blobs(collection->descriptor)) continue;
        auto record = collection->new_record();
        if (!record->ParseFromString(item.record.body)) continue;
        for (const BlobRef& ref : blob_refs(*record)) referenced.insert(ref.hash);
      }
      if (!page.has_more) break;
      after = page.next;
    }
  }
  // Sweep: stored blobs not marked and older than the grace period.
  BlobGcReport report;
  OUTPOST_ASSIGN_OR_RETURN(auto stored, blobs_.list());
  for (const StoredBlob& blob : stored) {
    if (referenced.count(blob.hash) != 0 || blob.stored_ms > now_ms - grace_ms) {
      ++report.kept;
      continue;
    }
    OUTPOST_RETURN_IF_ERROR(blobs_.remove(blob.hash));
    ++report.removed;
    report.removed_bytes += blob.size;
  }
  OUTPOST_ASSIGN_OR_RETURN(report.stale_uploads, blobs_.remove_stale_uploads(now_ms - grace_ms));
  return report;
}

}  // namespace outpost
