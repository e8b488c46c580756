// Column pages in format 2 (transport/column_page.h, decision 053): each column takes the
// transform that makes it smallest — integers against the body's previous integer field or
// as they are, lowercase UUIDs as 16 front-coded bytes — and still comes back byte for byte;
// a device of format 1 never gets a transform; the decoder refuses every lie about them.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "engine/limits.h"
#include "engine/replica.h"
#include "engine/schema.h"
#include "engine/sync_client.h"
#include "outpost/domain.pb.h"
#include "support/random_ids.h"
#include "transport/column_page.h"

namespace outpost {
namespace {

using Changes = google::protobuf::RepeatedPtrField<protocol::Change>;

// Interactions as a snapshot sends them: in key (random UUID) order, so the start times
// jump from row to row while each end is its start plus a duration.
Changes interactions(int count, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<domain::Interaction> records(static_cast<size_t>(count));
  int64_t started = 1'795'000'000'000;
  for (domain::Interaction& record : records) {
    record.set_id(support::random_uuid(random));
    record.set_state(domain::INTERACTION_QUALIFIED);
    started += 5'000 + static_cast<int64_t>(random() % 60'000);
    const int duration = 20 + static_cast<int>(random() % 1800);
    record.set_started_ms(started);
    record.set_ended_ms(started + duration * 1000LL);
    record.set_duration_s(duration);
    record.set_queue_id(random() % 2 ? "3f2a9c1e-0b7d-4e55-9a61-2c8d7e4f0a13" : "queue-7");
    record.set_wrapup_notes("customer asked about the invoice");
  }
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.id() < b.id(); });
  Changes changes;
  for (size_t i = 0; i < records.size(); ++i) {
    protocol::Change* change = changes.Add();
    change->set_collection("interaction");
    change->set_key(records[i].id());
    change->set_op(protocol::Change::PUT);
    change->set_version(500 + i);
    change->set_body(records[i].SerializeAsString());
  }
  return changes;
}

std::map<uint32_t, uint32_t> transforms(const protocol::ColumnPage& page) {
  std::map<uint32_t, uint32_t> out;
  for (const protocol::FieldColumn& column : page.fields()) out[column.tag()] = column.transform();
  return out;
}

Changes decode(const protocol::ColumnPage& page) {
  protocol::ColumnPage parsed;  // through its serialized form, as it travels
  EXPECT_TRUE(parsed.ParseFromString(page.SerializeAsString()));
  Changes out;
  Status status = decode_column_page(parsed, limits::kMaxChangesPerBatch, 32 << 20, out);
  EXPECT_TRUE(status.ok()) << status.to_string();
  return out;
}

void expect_same(const Changes& want, const Changes& got) {
  ASSERT_EQ(want.size(), got.size());
  for (int i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].SerializeAsString(), got[i].SerializeAsString()) << "change " << i;
  }
}

constexpr uint32_t tag(int field, int wire) {
  return static_cast<uint32_t>(field << 3 | wire);
}

TEST(ColumnPageTransforms, UuidsAndIntegersTakeTheirTransformAndComeBack) {
  const Changes changes = interactions(300, 1);
  std::optional<protocol::ColumnPage> page = encode_column_page(changes, kColumnPageVersion);
  ASSERT_TRUE(page.has_value());
  std::map<uint32_t, uint32_t> chosen = transforms(*page);
  EXPECT_EQ(chosen[tag(1, 2)], 1u);   // the ids: 16 bytes each
  EXPECT_EQ(chosen[tag(8, 0)], 0u);   // started_ms: against the previous row's
  EXPECT_EQ(chosen[tag(9, 0)], 1u);   // ended_ms: against started_ms
  EXPECT_NE(chosen[tag(10, 0)], 1u);  // duration_s: not against ended_ms
  EXPECT_EQ(chosen[tag(13, 2)], 0u);  // queue ids, not all UUIDs: plain
  expect_same(changes, decode(*page));
  // Smaller than decision 045's layout of the same page.
  std::optional<protocol::ColumnPage> plain = encode_column_page(changes, 1);
  ASSERT_TRUE(plain.has_value());
  EXPECT_LT(page->ByteSizeLong(), plain->ByteSizeLong());
}

TEST(ColumnPageTransforms, AFormatOnePageHasNoTransform) {
  const Changes changes = interactions(100, 2);
  std::optional<protocol::ColumnPage> page = encode_column_page(changes, 1);
  ASSERT_TRUE(page.has_value());
  for (const auto& [column_tag, transform] : transforms(*page)) {
    EXPECT_EQ(transform, 0u) << "tag " << column_tag;
  }
  expect_same(changes, decode(*page));
}

TEST(ColumnPageTransforms, UuidLikeTextThatWouldNotComeBackStaysPlain) {
  // Upper case, a misplaced dash, a non-hex digit, one character short: each in an
  // otherwise all-UUID column keeps that column plain, and every value comes back.
  const std::string odd[] = {
      "3F2A9C1E-0B7D-4E55-9A61-2C8D7E4F0A13", "3f2a9c1e0-b7d-4e55-9a61-2c8d7e4f0a13",
      "3f2a9c1e-0b7d-4e55-9a61-2c8d7e4f0a1g", "3f2a9c1e-0b7d-4e55-9a61-2c8d7e4f0a1"};
  for (const std::string& text : odd) {
    Changes changes = interactions(40, 3);
    domain::Interaction record;
    ASSERT_TRUE(record.ParseFromString(changes[7].body()));
    record.set_id(text);
    changes[7].set_key(text);
    changes[7].set_body(record.SerializeAsString());
    std::optional<protocol::ColumnPage> page = encode_column_page(changes, kColumnPageVersion);
    ASSERT_TRUE(page.has_value());
    EXPECT_EQ(transforms(*page)[tag(1, 2)], 0u) << text;
    expect_same(changes, decode(*page));
  }
}

TEST(ColumnPageTransforms, IdenticalUuidsAndExtremeIntegersComeBack) {
  // A UUID repeated (all 16 bytes shared), all-zero and all-f ones, integers wrapping
  // around 2^64 against their neighbours.
  Changes changes;
  const std::string ids[] = {"00000000-0000-0000-0000-000000000000",
                             "ffffffff-ffff-ffff-ffff-ffffffffffff",
                             "ffffffff-ffff-ffff-ffff-ffffffffffff"};
  for (int i = 0; i < 30; ++i) {
    domain::Interaction record;
    record.set_id(ids[i % 3]);
    record.set_started_ms(i % 2 ? INT64_MIN : INT64_MAX);
    record.set_ended_ms(i % 3 ? -1 : 1);
    record.set_duration_s(i % 2 ? INT32_MIN : 7);
    protocol::Change* change = changes.Add();
    change->set_collection("interaction");
    change->set_key(i % 4 == 0 ? "own-" + std::to_string(i) : record.id());
    change->set_op(protocol::Change::PUT);
    change->set_version(~static_cast<uint64_t>(i));
    change->set_body(record.SerializeAsString());
  }
  std::optional<protocol::ColumnPage> page = encode_column_page(changes, kColumnPageVersion);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(transforms(*page)[tag(1, 2)], 1u);
  expect_same(changes, decode(*page));
}

TEST(ColumnPageTransforms, TheDeviceAsksForTheFormatItsTransportReads) {
  protocol::PullRequest pull;
  pull.set_column_page_version(2);
  EXPECT_EQ(column_page_version(pull), 0u);  // columns not accepted at all
  pull.set_accepts_column_pages(true);
  pull.set_column_page_version(0);
  EXPECT_EQ(column_page_version(pull), 1u);  // a device of decision 045
  pull.set_column_page_version(2);
  EXPECT_EQ(column_page_version(pull), 2u);
  pull.set_column_page_version(99);  // a newer device gets what this server knows
  EXPECT_EQ(column_page_version(pull), kColumnPageVersion);
  // On the wire as field 23, varint, through a serialize and a parse.
  protocol::PullRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(pull.SerializeAsString()));
  EXPECT_EQ(parsed.column_page_version(), 99u);
  EXPECT_NE(pull.SerializeAsString().find(std::string("\xb8\x01\x63", 3)), std::string::npos);
}

TEST(ColumnPageTransforms, SyncClientAsksForTheFormatItsTransportReads) {
  std::string pattern = std::filesystem::temp_directory_path().string() + "/outpost-cols-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  ReplicaOptions options;
  options.tenant = "acme";
  options.user = "ada";
  options.client_id = "device-1";
  auto replica = Replica::open(pattern + "/device.db", Schema::domain(), nullptr, options);
  ASSERT_TRUE(replica.ok()) << replica.status().to_string();
  for (bool accept : {true, false}) {
    SyncClientOptions client_options;
    client_options.accept_column_pages = accept;
    SyncClient client(*replica.value(), client_options);
    auto frame = client.next_request();
    ASSERT_TRUE(frame.ok() && frame.value().has_value() && frame.value()->has_pull());
    EXPECT_EQ(column_page_version(frame.value()->pull()), accept ? kColumnPageVersion : 0u);
  }
  replica.value().reset();
  std::filesystem::remove_all(pattern);
}

class ColumnPageTransformRefusal : public ::testing::Test {
 protected:
  void SetUp() override { page_ = *encode_column_page(interactions(60, 4), kColumnPageVersion); }
  protocol::FieldColumn& column(protocol::ColumnPage& page, uint32_t column_tag) {
    for (protocol::FieldColumn& field : *page.mutable_fields()) {
      if (field.tag() == column_tag) return field;
    }
    ADD_FAILURE() << "no column " << column_tag;
    return *page.mutable_fields(0);
  }
  void expect_refused(const protocol::ColumnPage& page, const std::string& what) {
    Changes out;
    Status status = decode_column_page(page, limits::kMaxChangesPerBatch, 32 << 20, out);
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument) << what << ": " << status.to_string();
    EXPECT_NE(status.message().find("column page:"), std::string::npos) << status.to_string();
  }
  protocol::ColumnPage page_;
};

TEST_F(ColumnPageTransformRefusal, UnknownTransformsAreRefused) {
  protocol::ColumnPage varint = page_;
  column(varint, tag(8, 0)).set_transform(3);
  expect_refused(varint, "transform 3 on a varint column");
  protocol::ColumnPage text = page_;
  column(text, tag(19, 2)).set_transform(2);
  expect_refused(text, "transform 2 on a length-delimited column");
  protocol::ColumnPage fixed = page_;
  protocol::FieldColumn* extra = fixed.add_fields();
  extra->set_tag(tag(40, 1));
  extra->set_transform(1);
  expect_refused(fixed, "a transform on a fixed-width column");
}

TEST_F(ColumnPageTransformRefusal, LyingUuidColumnsAreRefused) {
  protocol::ColumnPage shared = page_;
  (*column(shared, tag(1, 2)).mutable_lengths())[0] = '\x11';  // 17 of 16 bytes
  expect_refused(shared, "a UUID sharing 17 bytes");
  protocol::ColumnPage cut = page_;
  column(cut, tag(1, 2)).mutable_values()->pop_back();
  expect_refused(cut, "a UUID column cut short");
  protocol::ColumnPage no_lengths = page_;
  column(no_lengths, tag(1, 2)).clear_lengths();
  expect_refused(no_lengths, "a UUID column without lengths");
  protocol::ColumnPage longer = page_;
  column(longer, tag(1, 2)).mutable_values()->push_back('\x01');
  expect_refused(longer, "a UUID column lengthened");
}

TEST_F(ColumnPageTransformRefusal, AnExpansionPastTheBoundIsTooLarge) {
  Changes out;
  EXPECT_EQ(decode_column_page(page_, limits::kMaxChangesPerBatch, 1000, out).code(),
            ErrorCode::kTooLarge);
}

TEST_F(ColumnPageTransformRefusal, EverySingleByteCorruptionDecodesOrIsRefusedCleanly) {
  const std::string wire = page_.SerializeAsString();
  int refused = 0;
  for (size_t at = 0; at < wire.size(); at += 2) {
    std::string bad = wire;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    protocol::ColumnPage page;
    if (!page.ParseFromString(bad)) continue;
    Changes out;
    Status status = decode_column_page(page, limits::kMaxChangesPerBatch, 32 << 20, out);
    if (!status.ok()) {
      ++refused;
      EXPECT_TRUE(status.code() == ErrorCode::kInvalidArgument ||
                  status.code() == ErrorCode::kTooLarge)
          << status.to_string();
    }
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace outpost
