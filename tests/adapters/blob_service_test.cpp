// The server's blob rules over a real SQLite store and a blob directory: who may read, the
// lazy fetch of platform media, bounded uploads, garbage collection.
#include "engine/blob_service.h"

#include <gtest/gtest.h>

#include "adapters/dir_blob_store.h"
#include "adapters/sim_media.h"
#include "adapters/sqlite_server_store.h"
#include "outpost/domain.pb.h"
#include "tests/engine/test_support.h"

namespace outpost {
namespace {

namespace d = outpost::domain;
using testing::TempDir;

class BlobServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    records_ = SqliteServerStore::open(dir_.file("outpost.db")).value();
    blobs_ = DirBlobStore::open(dir_.file("blobs")).value();
    BlobServiceOptions options;
    options.fetch_media = [this](std::string_view uri, uint64_t max) {
      ++fetches_;
      return fetch_sim_media(uri, max);
    };
    service_ = std::make_unique<BlobService>(*records_, *blobs_, Schema::domain(), options);
  }

  d::Voicemail put_voicemail(const std::string& scope, const std::string& id, int seconds) {
    d::Voicemail voicemail;
    voicemail.set_id(id);
    voicemail.set_duration_s(seconds);
    attach_sim_audio(voicemail);
    put(scope, "voicemail", id, voicemail.SerializeAsString());
    return voicemail;
  }

  void put(const std::string& scope, const std::string& collection, const std::string& key,
           const std::string& body) {
    auto tx = records_->begin_write().value();
    ASSERT_TRUE(tx->put(scope, collection, key, 0, body).ok());
    ASSERT_TRUE(tx->commit().ok());
  }

  static std::string read_all(BlobReader& reader) {
    std::string out;
    EXPECT_TRUE(reader.read(0, reader.size(), out).ok());
    return out;
  }

  TempDir dir_;
  std::unique_ptr<SqliteServerStore> records_;
  std::unique_ptr<DirBlobStore> blobs_;
  std::unique_ptr<BlobService> service_;
  int fetches_ = 0;
  const Principal agent1_{"acme", "agent-1", "phone"};
  const Principal agent2_{"acme", "agent-2", "phone"};
  const Principal globex_{"globex", "agent-1", "phone"};
};

TEST_F(BlobServiceTest, ReadsTheAudioOfItsOwnVoicemailFetchingItOnce) {
  auto voicemail = put_voicemail("user/acme/agent-1", "voicemail-1", 4);
  const BlobHash hash = BlobHash::parse(voicemail.audio_sha256()).value();
  EXPECT_FALSE(blobs_->stat(hash)->has_value());  // lazily: nothing fetched yet
  auto reader = service_->open_for_read(agent1_, hash, "voicemail", "voicemail-1");
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_EQ(read_all(**reader), sim_voicemail_wav("voicemail-1", 4));
  ASSERT_TRUE(service_->open_for_read(agent1_, hash, "voicemail", "voicemail-1").ok());
  EXPECT_EQ(fetches_, 1);
}

TEST_F(BlobServiceTest, ForeignBlobsAreRefusedWithOneAnswer) {
  auto voicemail = put_voicemail("user/acme/agent-1", "voicemail-1", 4);
  const BlobHash hash = BlobHash::parse(voicemail.audio_sha256()).value();
  // Another user of the tenant, another tenant, a key that does not exist, a record that
  // exists but references another blob: all the same 403, nothing fetched.
  EXPECT_EQ(service_->open_for_read(agent2_, hash, "voicemail", "voicemail-1").status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(service_->open_for_read(globex_, hash, "voicemail", "voicemail-1").status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(service_->open_for_read(agent1_, hash, "voicemail", "voicemail-9").status().code(),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(
      service_->open_for_read(agent1_, sha256_of("x"), "voicemail", "voicemail-1").status().code(),
      ErrorCode::kPermissionDenied);
  EXPECT_EQ(service_->open_for_read(agent1_, hash, "nonsense", "voicemail-1").status().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(fetches_, 0);
  EXPECT_FALSE(blobs_->stat(hash)->has_value());
}

TEST_F(BlobServiceTest, MediaThatDoesNotMatchTheRecordIsNotStored) {
  d::Voicemail voicemail;
  voicemail.set_id("voicemail-1");
  voicemail.set_audio_uri(sim_voicemail_uri("voicemail-1", 3));
  voicemail.set_audio_sha256(sha256_of("something else").hex());
  put("user/acme/agent-1", "voicemail", "voicemail-1", voicemail.SerializeAsString());
  const BlobHash hash = sha256_of("something else");
  EXPECT_EQ(service_->open_for_read(agent1_, hash, "voicemail", "voicemail-1").status().code(),
            ErrorCode::kNotFound);
  EXPECT_TRUE(blobs_->list()->empty());
}

TEST_F(BlobServiceTest, MediaPastTheVoicemailBoundIsTooLarge) {
  BlobServiceOptions options;
  options.limits.max_voicemail_bytes = 1000;
  options.fetch_media = fetch_sim_media;
  BlobService small(*records_, *blobs_, Schema::domain(), options);
  auto voicemail = put_voicemail("user/acme/agent-1", "voicemail-1", 4);
  const BlobHash hash = BlobHash::parse(voicemail.audio_sha256()).value();
  EXPECT_EQ(small.open_for_read(agent1_, hash, "voicemail", "voicemail-1").status().code(),
            ErrorCode::kTooLarge);
  EXPECT_TRUE(blobs_->list()->empty());
}

TEST_F(BlobServiceTest, UploadsAreBoundedAndReadableOnlyOnceReferenced) {
  const std::string bytes = "an attachment the agent added offline";
  const BlobHash hash = sha256_of(bytes);
  EXPECT_EQ(service_->upload(agent1_, hash, 0, 25ull * 1024 * 1024 + 1, "x").status().code(),
            ErrorCode::kTooLarge);
  EXPECT_EQ(*service_->upload(agent1_, hash, 0, bytes.size(), bytes.substr(0, 10)), 10u);
  EXPECT_EQ(*service_->upload_offset(agent1_, hash), 10u);
  EXPECT_EQ(*service_->upload(agent1_, hash, 10, bytes.size(), bytes.substr(10)), bytes.size());
  // Uploaded, but no record references it yet: not readable, even by the uploader.
  EXPECT_EQ(service_->open_for_read(agent1_, hash, "draft", "draft-1").status().code(),
            ErrorCode::kPermissionDenied);
  d::Draft draft;
  draft.set_id("draft-1");
  draft.add_attachments()->set_sha256(hash.hex());
  put("user/acme/agent-1", "draft", "draft-1", draft.SerializeAsString());
  auto reader = service_->open_for_read(agent1_, hash, "draft", "draft-1");
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_EQ(read_all(**reader), bytes);
}

TEST_F(BlobServiceTest, GarbageCollectionKeepsReferencedAndYoungBlobs) {
  auto voicemail = put_voicemail("user/acme/agent-1", "voicemail-1", 2);
  const BlobHash referenced = BlobHash::parse(voicemail.audio_sha256()).value();
  ASSERT_TRUE(service_->open_for_read(agent1_, referenced, "voicemail", "voicemail-1").ok());
  ASSERT_TRUE(blobs_->put(sha256_of("orphan"), "orphan").ok());
  auto scopes = records_->list_scopes().value();
  EXPECT_EQ(scopes, std::vector<std::string>{"user/acme/agent-1"});
  // Within the grace period nothing goes.
  auto young = service_->collect_garbage(scopes, /*now_ms=*/0, /*grace_ms=*/0);
  ASSERT_TRUE(young.ok());
  EXPECT_EQ(young->removed, 0u);
  auto report = service_->collect_garbage(scopes, INT64_MAX / 2, 1000);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->removed, 1u);
  EXPECT_EQ(report->kept, 1u);
  EXPECT_TRUE(blobs_->stat(referenced)->has_value());
  EXPECT_FALSE(blobs_->stat(sha256_of("orphan"))->has_value());
}

}  // namespace
}  // namespace outpost
