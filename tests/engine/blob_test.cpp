// Blob hashes and the references records carry (engine/blob.h).
#include "engine/blob.h"

#include <gtest/gtest.h>

#include "outpost/domain.pb.h"

namespace outpost {
namespace {

namespace d = outpost::domain;

constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(BlobHash, Sha256OfKnownVectors) {
  EXPECT_EQ(sha256_of("abc").hex(), kAbc);
  EXPECT_EQ(sha256_of("").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 pieces;
  pieces.update("a");
  pieces.update("bc");
  EXPECT_EQ(pieces.finish().hex(), kAbc);
}

TEST(BlobHash, ParsesOnlyLowercaseHexOfTheRightLength) {
  auto parsed = BlobHash::parse(kAbc);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->hex(), kAbc);
  std::string upper(kAbc);
  upper[0] = 'B';
  for (const std::string& bad : {std::string(), std::string(kAbc).substr(1), upper,
                                 std::string(kAbc) + "0", std::string(63, 'a') + "g"}) {
    EXPECT_EQ(BlobHash::parse(bad).status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(BlobRefs, VoicemailAudioWithSourceAndSize) {
  d::Voicemail voicemail;
  voicemail.set_id("voicemail-1");
  voicemail.set_audio_uri("sim-media:voicemail/voicemail-1?seconds=3");
  voicemail.set_audio_sha256(kAbc);
  voicemail.set_audio_size(3);
  auto refs = blob_refs(voicemail);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].hash.hex(), kAbc);
  EXPECT_EQ(refs[0].kind, BLOB_VOICEMAIL);
  EXPECT_EQ(refs[0].source_uri, voicemail.audio_uri());
  EXPECT_EQ(refs[0].size, 3u);
}

TEST(BlobRefs, DraftAttachmentsAreFoundNestedAndBadHashesSkipped) {
  d::Draft draft;
  draft.set_id("draft-1");
  auto* first = draft.add_attachments();
  first->set_sha256(kAbc);
  first->set_size_bytes(10);
  draft.add_attachments()->set_sha256("not a hash");
  draft.add_attachments();  // no blob yet
  auto refs = blob_refs(draft);
  ASSERT_EQ(refs.size(), 1u);
  EXPECT_EQ(refs[0].kind, BLOB_ATTACHMENT);
  EXPECT_EQ(refs[0].size, 10u);
  EXPECT_TRUE(may_reference_blobs(d::Draft::descriptor()));
  EXPECT_TRUE(may_reference_blobs(d::Voicemail::descriptor()));
  EXPECT_FALSE(may_reference_blobs(d::Contact::descriptor()));
}

}  // namespace
}  // namespace outpost
