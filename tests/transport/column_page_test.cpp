// Column pages (transport/column_page.h, decision 045): every collection's records come back
// byte for byte, pages that cannot be re-laid travel plain, and the decoder refuses every
// lie (truncated columns, counts, lengths, tags, sizes) with a clear error.
#include "transport/column_page.h"

#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <string>
#include <vector>

#include "engine/limits.h"
#include "engine/schema.h"
#include "outpost/domain.pb.h"

namespace outpost {
namespace {

namespace pb = google::protobuf;
using Changes = pb::RepeatedPtrField<protocol::Change>;

// Every field of `message` set from `seed`: scalars of each type (negative and large values,
// binary bytes), repeated fields with several values, nested messages two levels deep.
// Fields whose number divides by `skip` stay absent, so shapes differ between records.
void fill(pb::Message& message, uint64_t seed, int depth, int skip) {
  const pb::Descriptor* descriptor = message.GetDescriptor();
  const pb::Reflection* reflection = message.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const pb::FieldDescriptor* field = descriptor->field(i);
    if (skip > 0 && field->number() % skip == 0) continue;
    if (field->real_containing_oneof() != nullptr && field->index_in_oneof() != 0) continue;
    const int copies = field->is_repeated() ? 1 + static_cast<int>(seed % 3) : 1;
    for (int c = 0; c < copies; ++c) {
      const uint64_t v = seed * 7919 + static_cast<uint64_t>(c) * 31 + field->number();
      const bool repeated = field->is_repeated();
      switch (field->cpp_type()) {
        case pb::FieldDescriptor::CPPTYPE_INT32: {
          const int32_t x = static_cast<int32_t>(v % 2 ? -static_cast<int64_t>(v) : v);
          repeated ? reflection->AddInt32(&message, field, x)
                   : reflection->SetInt32(&message, field, x);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_INT64: {
          const int64_t x = v % 2 ? -static_cast<int64_t>(v << 20) : static_cast<int64_t>(v << 30);
          repeated ? reflection->AddInt64(&message, field, x)
                   : reflection->SetInt64(&message, field, x);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_UINT32:
          repeated ? reflection->AddUInt32(&message, field, static_cast<uint32_t>(v))
                   : reflection->SetUInt32(&message, field, static_cast<uint32_t>(v));
          break;
        case pb::FieldDescriptor::CPPTYPE_UINT64:
          repeated ? reflection->AddUInt64(&message, field, ~v)
                   : reflection->SetUInt64(&message, field, ~v);
          break;
        case pb::FieldDescriptor::CPPTYPE_DOUBLE:
          repeated ? reflection->AddDouble(&message, field, static_cast<double>(v) / 3)
                   : reflection->SetDouble(&message, field, static_cast<double>(v) / 3);
          break;
        case pb::FieldDescriptor::CPPTYPE_FLOAT:
          repeated ? reflection->AddFloat(&message, field, static_cast<float>(v) / 7)
                   : reflection->SetFloat(&message, field, static_cast<float>(v) / 7);
          break;
        case pb::FieldDescriptor::CPPTYPE_BOOL:
          // false included: a proto3 `optional` bool set to its default is present.
          repeated ? reflection->AddBool(&message, field, v % 2 == 0)
                   : reflection->SetBool(&message, field, v % 2 == 0);
          break;
        case pb::FieldDescriptor::CPPTYPE_ENUM: {
          const pb::EnumDescriptor* type = field->enum_type();
          const int value = type->value(static_cast<int>(v % type->value_count()))->number();
          repeated ? reflection->AddEnumValue(&message, field, value)
                   : reflection->SetEnumValue(&message, field, value);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_STRING: {
          std::string x = field->type() == pb::FieldDescriptor::TYPE_BYTES
                              ? std::string("\0\xff\x80", 3) + std::to_string(v)
                              : field->name() + "-" + std::to_string(seed % 50);
          if (seed % 5 == 0) x.clear();  // present and empty when the field has presence
          repeated ? reflection->AddString(&message, field, x)
                   : reflection->SetString(&message, field, x);
          break;
        }
        case pb::FieldDescriptor::CPPTYPE_MESSAGE:
          if (depth < 2) {
            fill(repeated ? *reflection->AddMessage(&message, field)
                          : *reflection->MutableMessage(&message, field),
                 seed + 1, depth + 1, skip);
          }
          break;
      }
    }
  }
}

// A page of one collection's records: keys from the key field (so most keys are dropped from
// the columns), some keys of their own, deletes among them, versions not in order.
Changes page_of(const Collection& collection, int count) {
  Changes changes;
  std::unique_ptr<pb::Message> record(
      pb::MessageFactory::generated_factory()->GetPrototype(collection.descriptor)->New());
  for (int i = 0; i < count; ++i) {
    record->Clear();
    fill(*record, static_cast<uint64_t>(i), 0, i % 4 == 0 ? 0 : 2 + i % 5);
    protocol::Change* change = changes.Add();
    change->set_collection(collection.name);
    const bool deleted = i % 9 == 8;
    change->set_op(deleted ? protocol::Change::DELETE : protocol::Change::PUT);
    change->set_version(1000 + static_cast<uint64_t>((i * 37) % 101));
    std::string key = collection.key_field != nullptr
                          ? record->GetReflection()->GetString(*record, collection.key_field)
                          : "";
    if (i % 7 == 3 || key.empty()) key = "own-key-" + std::to_string(i);
    change->set_key(key);
    if (!deleted) change->set_body(record->SerializeAsString());
  }
  return changes;
}

void expect_same(const Changes& want, const Changes& got) {
  ASSERT_EQ(want.size(), got.size());
  for (int i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].SerializeAsString(), got[i].SerializeAsString()) << "change " << i;
  }
}

Changes round_trip(const Changes& changes) {
  std::optional<protocol::ColumnPage> page = encode_column_page(changes);
  EXPECT_TRUE(page.has_value());
  Changes out;
  if (!page) return out;
  // Through its serialized form, as it travels.
  protocol::ColumnPage parsed;
  EXPECT_TRUE(parsed.ParseFromString(page->SerializeAsString()));
  Status decoded = decode_column_page(parsed, limits::kMaxChangesPerBatch, 32 << 20, out);
  EXPECT_TRUE(decoded.ok()) << decoded.to_string();
  return out;
}

TEST(ColumnPage, EveryCollectionsRecordsComeBackByteForByte) {
  ASSERT_FALSE(Schema::domain().collections().empty());
  for (const auto& collection : Schema::domain().collections()) {
    SCOPED_TRACE(collection->name);
    Changes changes = page_of(*collection, 60);
    expect_same(changes, round_trip(changes));
  }
}

TEST(ColumnPage, AMixedPageOfSeveralCollectionsComesBack) {
  Changes changes;
  for (const auto& collection : Schema::domain().collections()) {
    for (const protocol::Change& change : page_of(*collection, 12)) *changes.Add() = change;
  }
  expect_same(changes, round_trip(changes));
}

TEST(ColumnPage, ValuesSharingAPrefixWithThePreviousOneComeBack) {
  // Front coding of length-delimited columns: ids and e-mails that share their beginning,
  // values that are a prefix of the previous one, empty ones, and a repeated field whose
  // previous value is in the same body.
  const char* values[] = {"contact-100", "contact-1000", "contact-10", "", "contact-10",
                          "c",           "contact-1001"};
  Changes changes;
  for (int i = 0; i < 7; ++i) {
    domain::Contact contact;
    contact.set_id(values[i]);
    contact.set_first_name(values[(i + 3) % 7]);
    contact.set_work_email(std::string(values[i]) + "@example.com");
    protocol::Change* change = changes.Add();
    change->set_collection("contact");
    change->set_key(contact.id());
    change->set_op(protocol::Change::PUT);
    change->set_body(contact.SerializeAsString() + contact.SerializeAsString());
  }
  expect_same(changes, round_trip(changes));
}

TEST(ColumnPage, UnknownCollectionsAndFieldsComeBack) {
  // A collection this device's schema does not have, with fields of every wire type at
  // numbers no schema uses (up to the largest field number): re-laid without the schema.
  Changes changes;
  for (int i = 0; i < 20; ++i) {
    std::string body;
    body += std::string("\x0a\x05", 2) + "id-" + std::to_string(10 + i);      // 1: "id-NN"
    body += std::string("\xc0\x3e", 2) + static_cast<char>(i);                // 1000: varint
    body += std::string("\xc5\x3e", 2) + std::string("\x01\x02\x03\x04", 4);  // 1000: fixed32
    body += std::string("\xf9\xff\xff\xff\x0f", 5) + std::string(8, 'x');     // 2^29-1: fixed64
    body += std::string("\xfa\xff\xff\xff\x0f\x02", 6) + "ab";                // 2^29-1: bytes
    body += std::string("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11);  // 2: uint64 max
    protocol::Change* change = changes.Add();
    change->set_collection(i % 2 ? "from_the_future" : "contact");
    change->set_key("id-" + std::to_string(10 + i));
    change->set_op(protocol::Change::PUT);
    change->set_version(static_cast<uint64_t>(i) * 1000000007ULL);
    change->set_body(body);
  }
  expect_same(changes, round_trip(changes));
}

TEST(ColumnPage, BodiesThatAreNotCanonicalProtobufTravelPlain) {
  const std::string bad_bodies[] = {
      std::string("\x08\x81\x00", 3),  // a varint written longer than it needs
      std::string("\x0b\x0c", 2),      // a group (wire type 3)
      std::string("\x0a\x05"
                  "ab",
                  4),              // a length past the end
      std::string("\x00\x01", 2),  // field number 0
  };
  for (const std::string& bad : bad_bodies) {
    protocol::PullResponse response;
    protocol::ScopeChanges* scope = response.add_scopes();
    for (int i = 0; i < kMinColumnPageChanges; ++i) {
      protocol::Change* change = scope->add_changes();
      change->set_collection("contact");
      change->set_key("k" + std::to_string(i));
      change->set_op(protocol::Change::PUT);
      change->set_body(i == 5 ? bad : std::string("\x08\x01", 2));
    }
    EXPECT_FALSE(encode_column_page(scope->changes()).has_value());
    EXPECT_EQ(encode_column_pages(response), 0);
    EXPECT_EQ(scope->changes_size(), kMinColumnPageChanges);
    EXPECT_FALSE(scope->has_columns());
  }
}

TEST(ColumnPage, OnlyPagesOfEnoughChangesGoColumnWise) {
  const Collection& contact = *Schema::domain().find("contact");
  protocol::PullResponse response;
  *response.add_scopes()->mutable_changes() = page_of(contact, kMinColumnPageChanges - 1);
  *response.add_scopes()->mutable_changes() = page_of(contact, kMinColumnPageChanges);
  const Changes second = response.scopes(1).changes();
  EXPECT_EQ(encode_column_pages(response), 1);
  EXPECT_EQ(response.scopes(0).changes_size(), kMinColumnPageChanges - 1);
  EXPECT_FALSE(response.scopes(0).has_columns());
  EXPECT_EQ(response.scopes(1).changes_size(), 0);
  ASSERT_TRUE(response.scopes(1).has_columns());
  ASSERT_TRUE(expand_column_pages(response, 32 << 20).ok());
  EXPECT_FALSE(response.scopes(1).has_columns());
  expect_same(second, response.scopes(1).changes());
}

// ---- refusals ----

class ColumnPageRefusal : public ::testing::Test {
 protected:
  void SetUp() override {
    changes_ = page_of(*Schema::domain().find("contact"), 40);
    page_ = *encode_column_page(changes_);
  }
  Status decode(const protocol::ColumnPage& page, size_t max_bytes = 32 << 20) {
    Changes out;
    return decode_column_page(page, limits::kMaxChangesPerBatch, max_bytes, out);
  }
  void expect_refused(const protocol::ColumnPage& page, const std::string& what) {
    Status status = decode(page);
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument) << what << ": " << status.to_string();
    EXPECT_NE(status.message().find("column page:"), std::string::npos) << status.to_string();
  }
  Changes changes_;
  protocol::ColumnPage page_;
};

TEST_F(ColumnPageRefusal, TheValidPageDecodes) {
  EXPECT_TRUE(decode(page_).ok());
}

TEST_F(ColumnPageRefusal, EveryColumnCutShortOrLengthenedIsRefused) {
  using Field = std::string* (protocol::ColumnPage::*)();
  const std::pair<const char*, Field> columns[] = {
      {"collection", &protocol::ColumnPage::mutable_collection},
      {"ops", &protocol::ColumnPage::mutable_ops},
      {"versions", &protocol::ColumnPage::mutable_versions},
      {"key_lengths", &protocol::ColumnPage::mutable_key_lengths},
      {"key_bytes", &protocol::ColumnPage::mutable_key_bytes},
      {"shapes", &protocol::ColumnPage::mutable_shapes}};
  for (const auto& [name, column] : columns) {
    protocol::ColumnPage cut = page_;
    std::string* bytes = (cut.*column)();
    if (bytes->empty()) continue;
    bytes->pop_back();
    expect_refused(cut, std::string(name) + " cut");
    protocol::ColumnPage longer = page_;
    (longer.*column)()->push_back('\x01');
    expect_refused(longer, std::string(name) + " lengthened");
  }
  for (int i = 0; i < page_.fields_size(); ++i) {
    protocol::ColumnPage cut = page_;
    std::string* values = cut.mutable_fields(i)->mutable_values();
    if (values->empty()) continue;
    values->pop_back();
    expect_refused(cut, "values of field column " + std::to_string(i));
    protocol::ColumnPage longer = page_;
    longer.mutable_fields(i)->mutable_values()->push_back('\x02');
    expect_refused(longer, "values of field column " + std::to_string(i) + " lengthened");
  }
}

TEST_F(ColumnPageRefusal, LyingCountsAreRefused) {
  protocol::ColumnPage more = page_;
  more.set_count(page_.count() + 1);
  expect_refused(more, "count + 1");
  protocol::ColumnPage fewer = page_;
  fewer.set_count(page_.count() - 1);
  expect_refused(fewer, "count - 1");
  protocol::ColumnPage huge = page_;
  huge.set_count(limits::kMaxChangesPerBatch + 1);
  Status status = decode(huge);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("above 2000"), std::string::npos) << status.to_string();
}

TEST_F(ColumnPageRefusal, ABadLengthIsRefused) {
  for (int i = 0; i < page_.fields_size(); ++i) {
    if ((page_.fields(i).tag() & 7) != 2) continue;
    // The first value: 0 bytes shared with a previous one (there is none), then its length.
    protocol::ColumnPage longer = page_;
    (*longer.mutable_fields(i)->mutable_lengths())[1] = '\x7f';  // says 127 bytes
    expect_refused(longer, "length of column " + std::to_string(i));
    protocol::ColumnPage shared = page_;
    (*shared.mutable_fields(i)->mutable_lengths())[0] = '\x01';  // shares a byte with nothing
    Status status = decode(shared);
    EXPECT_NE(status.message().find("sharing more bytes"), std::string::npos) << status.to_string();
  }
  protocol::ColumnPage key = page_;
  key.set_key_lengths(std::string("\xff\xff\x03", 3) + key.key_lengths().substr(1));
  expect_refused(key, "a key length past the key bytes");
}

TEST_F(ColumnPageRefusal, BadTagsOpsAndIndexesAreRefused) {
  protocol::ColumnPage group = page_;
  group.add_fields()->set_tag((40 << 3) | 3);
  expect_refused(group, "a group column");
  protocol::ColumnPage zero = page_;
  zero.add_fields()->set_tag(2);
  expect_refused(zero, "field number 0");
  protocol::ColumnPage twice = page_;
  *twice.add_fields() = page_.fields(0);
  expect_refused(twice, "a tag with two columns");
  protocol::ColumnPage missing = page_;
  missing.mutable_fields()->RemoveLast();
  expect_refused(missing, "a shape naming a tag with no column");
  protocol::ColumnPage op = page_;
  (*op.mutable_ops())[0] = '\x03';
  expect_refused(op, "op 3");
  protocol::ColumnPage index = page_;
  (*index.mutable_collection())[0] = '\x05';
  expect_refused(index, "collection index past the names");
  protocol::ColumnPage lengths = page_;
  for (auto& field : *lengths.mutable_fields()) {
    if ((field.tag() & 7) == 0) field.set_lengths("\x01");
  }
  expect_refused(lengths, "lengths in a varint column");
  protocol::ColumnPage many = page_;
  for (int i = 0; i <= kMaxColumnPageFields; ++i) many.add_fields()->set_tag((5000 + i) << 3);
  expect_refused(many, "too many field columns");
}

TEST_F(ColumnPageRefusal, AKeyTakenFromABodyWithoutAnIdIsRefused) {
  // A DELETE's empty body has no field 1: its key cannot come from it.
  Changes deletes;
  for (int i = 0; i < 3; ++i) {
    protocol::Change* change = deletes.Add();
    change->set_collection("contact");
    change->set_key("c" + std::to_string(i));
    change->set_op(protocol::Change::DELETE);
  }
  protocol::ColumnPage page = *encode_column_page(deletes);
  page.set_key_lengths(std::string(3, '\0'));
  page.clear_key_bytes();
  expect_refused(page, "key from an empty body");
}

TEST_F(ColumnPageRefusal, AnExpansionPastTheBoundIsTooLarge) {
  size_t plain = 0;
  for (const protocol::Change& change : changes_) {
    plain += change.collection().size() + change.key().size() + change.body().size();
  }
  EXPECT_TRUE(decode(page_, plain).ok());
  EXPECT_EQ(decode(page_, plain - 1).code(), ErrorCode::kTooLarge);
  protocol::PullResponse response;
  *response.add_scopes()->mutable_columns() = page_;
  *response.add_scopes()->mutable_columns() = page_;
  EXPECT_EQ(expand_column_pages(response, 2 * plain - 1).code(), ErrorCode::kTooLarge);
}

TEST_F(ColumnPageRefusal, AScopeWithBothChangesAndColumnsIsRefused) {
  protocol::PullResponse response;
  protocol::ScopeChanges* scope = response.add_scopes();
  *scope->mutable_columns() = page_;
  *scope->add_changes() = changes_[0];
  Status status = expand_column_pages(response, 32 << 20);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
}

TEST_F(ColumnPageRefusal, EverySingleByteCorruptionDecodesOrIsRefusedCleanly) {
  const std::string wire = page_.SerializeAsString();
  int refused = 0;
  for (size_t at = 0; at < wire.size(); at += 3) {
    std::string bad = wire;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    protocol::ColumnPage page;
    if (!page.ParseFromString(bad)) continue;
    Status status = decode(page);
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
