// The server's blob store on a directory: verified puts, resumable uploads, listing.
#include "adapters/dir_blob_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/engine/test_support.h"

namespace outpost {
namespace {

using testing::TempDir;

std::string read_all(BlobReader& reader) {
  std::string all, piece;
  for (uint64_t offset = 0;; offset += piece.size()) {
    EXPECT_TRUE(reader.read(offset, 7, piece).ok());
    if (piece.empty()) return all;
    all += piece;
  }
}

TEST(DirBlobStore, PutVerifiesTheHashAndReadsBackInPieces) {
  TempDir dir;
  auto store = DirBlobStore::open(dir.path()).value();
  const std::string bytes = "the voicemail's bytes";
  const BlobHash hash = sha256_of(bytes);
  EXPECT_FALSE(store->stat(hash)->has_value());
  EXPECT_EQ(store->open(hash).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store->put(hash, "other bytes").code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store->stat(hash)->has_value());  // nothing stored
  ASSERT_TRUE(store->put(hash, bytes).ok());
  ASSERT_TRUE(store->put(hash, bytes).ok());  // idempotent
  EXPECT_EQ(**store->stat(hash), bytes.size());
  auto reader = store->open(hash).value();
  EXPECT_EQ(reader->size(), bytes.size());
  EXPECT_EQ(read_all(*reader), bytes);
  std::string tail;
  ASSERT_TRUE(reader->read(bytes.size() - 5, 100, tail).ok());
  EXPECT_EQ(tail, "bytes");
}

TEST(DirBlobStore, UploadResumesAtTheStoredOffsetAcrossReopen) {
  TempDir dir;
  const std::string bytes(100000, 'x');
  const BlobHash hash = sha256_of(bytes);
  {
    auto store = DirBlobStore::open(dir.path()).value();
    EXPECT_EQ(*store->upload_offset("acme/agent-1", hash), 0u);
    EXPECT_EQ(*store->append_upload("acme/agent-1", hash, 0, bytes.size(),
                                    std::string_view(bytes).substr(0, 40000)),
              40000u);
  }  // the server restarts
  auto store = DirBlobStore::open(dir.path()).value();
  EXPECT_EQ(*store->upload_offset("acme/agent-1", hash), 40000u);
  EXPECT_EQ(*store->upload_offset("acme/agent-2", hash), 0u);  // partials are per owner
  // A chunk at the wrong offset changes nothing.
  EXPECT_EQ(store->append_upload("acme/agent-1", hash, 30000, bytes.size(), "x").status().code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(*store->upload_offset("acme/agent-1", hash), 40000u);
  // A chunk that passes the announced length is refused.
  EXPECT_EQ(store->append_upload("acme/agent-1", hash, 40000, 40001, "xx").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(*store->append_upload("acme/agent-1", hash, 40000, bytes.size(),
                                  std::string_view(bytes).substr(40000)),
            bytes.size());
  EXPECT_EQ(**store->stat(hash), bytes.size());
  // Complete: every owner's offset is the size, a retried last chunk is harmless.
  EXPECT_EQ(*store->upload_offset("acme/agent-2", hash), bytes.size());
  EXPECT_EQ(*store->append_upload("acme/agent-1", hash, bytes.size(), bytes.size(), ""),
            bytes.size());
}

TEST(DirBlobStore, UploadWhoseContentDoesNotMatchIsDroppedWhole) {
  TempDir dir;
  auto store = DirBlobStore::open(dir.path()).value();
  const BlobHash hash = sha256_of("expected");
  EXPECT_EQ(store->append_upload("acme/agent-1", hash, 0, 8, "imposter").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_FALSE(store->stat(hash)->has_value());
  EXPECT_EQ(*store->upload_offset("acme/agent-1", hash), 0u);
  EXPECT_TRUE(store->list()->empty());
}

TEST(DirBlobStore, OwnersThatAreNotNamesAreRefused) {
  TempDir dir;
  auto store = DirBlobStore::open(dir.path()).value();
  const BlobHash hash = sha256_of("x");
  for (const std::string owner :
       {"", "../etc", "a/../../b", ".hidden", "a/", "/a", "a//b", "a b"}) {
    EXPECT_EQ(store->append_upload(owner, hash, 0, 1, "x").status().code(),
              ErrorCode::kInvalidArgument)
        << owner;
  }
}

TEST(DirBlobStore, ListsRemovesAndDropsStaleUploads) {
  TempDir dir;
  auto store = DirBlobStore::open(dir.path()).value();
  ASSERT_TRUE(store->put(sha256_of("one"), "one").ok());
  ASSERT_TRUE(store->put(sha256_of("two"), "two").ok());
  ASSERT_TRUE(store->append_upload("acme/a", sha256_of("three"), 0, 5, "thr").ok());
  auto listed = store->list().value();
  EXPECT_EQ(listed.size(), 2u);
  ASSERT_TRUE(store->remove(sha256_of("one")).ok());
  ASSERT_TRUE(store->remove(sha256_of("one")).ok());
  EXPECT_EQ(store->list()->size(), 1u);
  EXPECT_EQ(*store->remove_stale_uploads(0), 0u);  // younger than the epoch? no: kept
  EXPECT_EQ(*store->remove_stale_uploads(INT64_MAX), 1u);
  EXPECT_EQ(*store->upload_offset("acme/a", sha256_of("three")), 0u);
}

}  // namespace
}  // namespace outpost
