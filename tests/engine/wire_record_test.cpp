// WireRecordReader (decision 060): a flat record's columns read straight from its bytes must
// be exactly what protobuf's parse and reflection give, and anything else must be left to
// protobuf (read() false) — never accepted when protobuf refuses it.
#include "engine/wire_record.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "engine/schema.h"

namespace outpost {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorPool;
using google::protobuf::DynamicMessageFactory;
using google::protobuf::FieldDescriptor;
using google::protobuf::FieldDescriptorProto;
using google::protobuf::FileDescriptorProto;
using google::protobuf::Message;

// Every scalar type as a column, in proto3 and in proto2 (closed enum, explicit defaults).
const Descriptor* flat_message(DescriptorPool& pool, const std::string& syntax) {
  FileDescriptorProto file;
  file.set_name("wire_" + syntax + ".proto");
  file.set_package("wire_" + syntax);
  file.set_syntax(syntax);
  auto* color = file.add_enum_type();
  color->set_name("Color");
  const std::pair<const char*, int> colors[] = {{"COLOR_ZERO", 0}, {"RED", 1}, {"BLUE", -2}};
  for (const auto& [name, number] : colors) {
    auto* value = color->add_value();
    value->set_name(name);
    value->set_number(number);
  }
  auto* flat = file.add_message_type();
  flat->set_name("Flat");
  const std::pair<const char*, FieldDescriptorProto::Type> fields[] = {
      {"id", FieldDescriptorProto::TYPE_STRING},     {"i32", FieldDescriptorProto::TYPE_INT32},
      {"i64", FieldDescriptorProto::TYPE_INT64},     {"u32", FieldDescriptorProto::TYPE_UINT32},
      {"u64", FieldDescriptorProto::TYPE_UINT64},    {"b", FieldDescriptorProto::TYPE_BOOL},
      {"color", FieldDescriptorProto::TYPE_ENUM},    {"s32", FieldDescriptorProto::TYPE_SINT32},
      {"s64", FieldDescriptorProto::TYPE_SINT64},    {"f32", FieldDescriptorProto::TYPE_FIXED32},
      {"sf32", FieldDescriptorProto::TYPE_SFIXED32}, {"fl", FieldDescriptorProto::TYPE_FLOAT},
      {"f64", FieldDescriptorProto::TYPE_FIXED64},   {"sf64", FieldDescriptorProto::TYPE_SFIXED64},
      {"d", FieldDescriptorProto::TYPE_DOUBLE},      {"raw", FieldDescriptorProto::TYPE_BYTES},
      {"name", FieldDescriptorProto::TYPE_STRING},
  };
  int number = 1;
  for (const auto& [name, type] : fields) {
    auto* field = flat->add_field();
    field->set_name(name);
    field->set_number(number == 17 ? 40 : number);  // a gap in the numbers
    field->set_type(type);
    field->set_label(FieldDescriptorProto::LABEL_OPTIONAL);
    if (type == FieldDescriptorProto::TYPE_ENUM) field->set_type_name(".wire_" + syntax + ".Color");
    ++number;
  }
  if (syntax == "proto2") {
    flat->mutable_field(1)->set_default_value("-5");
    flat->mutable_field(6)->set_default_value("RED");
    flat->mutable_field(16)->set_default_value("anon");
  }
  const auto* built = pool.BuildFile(file);
  return built == nullptr ? nullptr : built->FindMessageTypeByName("Flat");
}

// A Collection over `descriptor` with every field a column, as Schema builds them.
Collection collection_of(const Descriptor* descriptor) {
  Collection collection;
  collection.name = "flat";
  collection.descriptor = descriptor;
  collection.key_field = descriptor->FindFieldByName("id");
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    Column column{field, field->name()};
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_FLOAT:
      case FieldDescriptor::CPPTYPE_DOUBLE:
        column.type = ColumnType::kReal;
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        column.type =
            field->type() == FieldDescriptor::TYPE_BYTES ? ColumnType::kBlob : ColumnType::kText;
        break;
      default:
        column.type = ColumnType::kInteger;
    }
    collection.columns.push_back(column);
  }
  return collection;
}

// What CollectionTable::bind_record binds for each column, through reflection.
std::vector<WireValue> reflected(const Message& record, const Collection& collection,
                                 std::vector<std::string>& strings) {
  const auto* reflection = record.GetReflection();
  std::vector<WireValue> out(collection.columns.size());
  strings.assign(collection.columns.size(), "");
  for (size_t i = 0; i < collection.columns.size(); ++i) {
    const FieldDescriptor* field = collection.columns[i].field;
    WireValue& value = out[i];
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        value.integer = reflection->GetInt32(record, field);
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        value.integer = reflection->GetInt64(record, field);
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        value.integer = reflection->GetUInt32(record, field);
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        value.integer = static_cast<int64_t>(reflection->GetUInt64(record, field));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        value.integer = reflection->GetBool(record, field) ? 1 : 0;
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        value.integer = reflection->GetEnumValue(record, field);
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        value.real = static_cast<double>(reflection->GetFloat(record, field));
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        value.real = reflection->GetDouble(record, field);
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        strings[i] = reflection->GetString(record, field);
        value.bytes = strings[i];
        break;
      default:
        break;
    }
  }
  return out;
}

// Same values, bit for bit (NaNs included).
void expect_same(const std::vector<WireValue>& wire, const std::vector<WireValue>& want,
                 const std::string& context) {
  ASSERT_EQ(wire.size(), want.size());
  for (size_t i = 0; i < wire.size(); ++i) {
    EXPECT_EQ(wire[i].integer, want[i].integer) << context << " column " << i;
    EXPECT_EQ(memcmp(&wire[i].real, &want[i].real, sizeof(double)), 0)
        << context << " column " << i;
    EXPECT_EQ(wire[i].bytes, want[i].bytes) << context << " column " << i;
  }
}

std::string random_text(std::mt19937& rng) {
  static const char* pieces[] = {"a", "Zo", "0", " ", "é", "€", "😀", "contact-", "\x7f", ""};
  std::string out;
  for (int n = static_cast<int>(rng() % 6); n > 0; --n) out += pieces[rng() % std::size(pieces)];
  return out;
}

// A record with a random subset of its fields set, extremes included.
void fill_randomly(Message& record, std::mt19937& rng) {
  const auto* reflection = record.GetReflection();
  const Descriptor* descriptor = record.GetDescriptor();
  const int64_t extremes[] = {0, 1, -1, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX, 300, -300};
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->name() != "id" && rng() % 3 == 0) continue;
    const int64_t n = rng() % 2 ? extremes[rng() % std::size(extremes)]
                                : static_cast<int64_t>(rng()) - (1LL << 31);
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        reflection->SetInt32(&record, field, static_cast<int32_t>(n));
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        reflection->SetInt64(&record, field, n);
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        reflection->SetUInt32(&record, field, static_cast<uint32_t>(n));
        break;
      case FieldDescriptor::CPPTYPE_UINT64:
        reflection->SetUInt64(&record, field, static_cast<uint64_t>(n));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        reflection->SetBool(&record, field, n % 2 != 0);
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        reflection->SetEnum(&record, field, field->enum_type()->value(rng() % 3));
        break;
      case FieldDescriptor::CPPTYPE_FLOAT:
        reflection->SetFloat(&record, field, static_cast<float>(n) / 7.0f);
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        reflection->SetDouble(&record, field, static_cast<double>(n) / 3.0);
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        reflection->SetString(&record, field,
                              field->type() == FieldDescriptor::TYPE_BYTES
                                  ? std::string("\xff\x00\xc0", 3) + random_text(rng)
                                  : random_text(rng));
        break;
      default:
        break;
    }
  }
}

class WireRecord : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    descriptor_ = flat_message(pool_, GetParam());
    ASSERT_NE(descriptor_, nullptr);
    collection_ = collection_of(descriptor_);
    reader_ = std::make_unique<WireRecordReader>(collection_);
    ASSERT_TRUE(reader_->active());
  }
  std::unique_ptr<Message> fresh() {
    return std::unique_ptr<Message>(factory_.GetPrototype(descriptor_)->New());
  }

  DescriptorPool pool_;
  DynamicMessageFactory factory_;
  const Descriptor* descriptor_ = nullptr;
  Collection collection_;
  std::unique_ptr<WireRecordReader> reader_;
};

TEST_P(WireRecord, ReadsEveryScalarTypeAsReflectionDoes) {
  std::mt19937 rng(60);
  std::vector<WireValue> wire;
  std::vector<std::string> strings;
  for (int n = 0; n < 3000; ++n) {
    auto record = fresh();
    fill_randomly(*record, rng);
    const std::string body = record->SerializeAsString();
    ASSERT_TRUE(reader_->read(body, wire)) << record->DebugString();
    expect_same(wire, reflected(*record, collection_, strings), record->ShortDebugString());
  }
  // An empty body is every default (proto2's declared ones included).
  ASSERT_TRUE(reader_->read("", wire));
  expect_same(wire, reflected(*fresh(), collection_, strings), "empty");
}

// The contract that keeps the apply path as strict as before: whatever read() accepts,
// protobuf accepts too and reads the same. Random damage to real bodies.
TEST_P(WireRecord, NeverAcceptsWhatProtobufRefusesNorReadsItDifferently) {
  std::mt19937 rng(61);
  std::vector<WireValue> wire;
  std::vector<std::string> strings;
  int accepted = 0, left_to_protobuf = 0;
  for (int n = 0; n < 40000; ++n) {
    auto record = fresh();
    fill_randomly(*record, rng);
    std::string body = record->SerializeAsString();
    for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
      const size_t at = body.empty() ? 0 : rng() % body.size();
      switch (rng() % 5) {
        case 0:
          if (!body.empty()) body[at] = static_cast<char>(rng());
          break;
        case 1:
          body.insert(at, 1, static_cast<char>(rng()));
          break;
        case 2:
          if (!body.empty()) body.erase(at, 1);
          break;
        case 3:
          body.resize(at);
          break;
        default:
          body += record->SerializeAsString().substr(0, rng() % 8);
      }
    }
    if (!reader_->read(body, wire)) {
      ++left_to_protobuf;
      continue;
    }
    ++accepted;
    auto parsed = fresh();
    ASSERT_TRUE(parsed->ParseFromString(body)) << "accepted what protobuf refuses";
    expect_same(wire, reflected(*parsed, collection_, strings), "mutated body");
  }
  EXPECT_GT(accepted, 1000);
  EXPECT_GT(left_to_protobuf, 1000);
}

TEST_P(WireRecord, LeavesEverythingButCanonicalColumnsToProtobuf) {
  std::vector<WireValue> wire;
  const std::string id = std::string("\x0a\x02", 2) + "c1";
  EXPECT_TRUE(reader_->read(id, wire));
  EXPECT_EQ(wire[0].bytes, "c1");
  // The last occurrence of a field wins, as protobuf reads it (the values are views into
  // the body read, so it stays alive while they are looked at).
  const std::string twice = id + std::string("\x0a\x02", 2) + "c2";
  EXPECT_TRUE(reader_->read(twice, wire));
  EXPECT_EQ(wire[0].bytes, "c2");
  // Bytes need not be UTF-8; strings must.
  EXPECT_TRUE(reader_->read(id + std::string("\x82\x01\x02\xff\xfe", 5), wire));
  const std::string not_left_to_us[] = {
      id + std::string("\xaa\x01\x00", 3),          // unknown field 21 (a newer schema)
      id + std::string("\x12\x01", 2) + "x",        // i32 sent length-delimited
      id + std::string("\xc2\x02\x02\xc3\x28", 5),  // name (40) not UTF-8
      id + std::string("\x38\x05", 2),              // color 5: not a value of the enum
      id + std::string("\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12),  // 11-byte varint
      id + std::string("\xc2\x02\x05", 3) + "ab",  // a length past the end
      id + std::string("\x00", 1),                 // tag 0
      id + std::string("\x5d\x01\x02", 3),         // fixed32 cut short
      id + std::string("\x13\x14", 2),             // a group
      std::string("\x0a\x01", 2),                  // the key cut short
  };
  for (const std::string& body : not_left_to_us) {
    EXPECT_FALSE(reader_->read(body, wire)) << ::testing::PrintToString(body);
  }
}

INSTANTIATE_TEST_SUITE_P(Syntaxes, WireRecord, ::testing::Values("proto3", "proto2"));

TEST(WireRecordReader, MessagesWithNestedRepeatedOrOneofFieldsAreLeftToProtobuf) {
  const Schema& schema = Schema::domain();
  EXPECT_TRUE(WireRecordReader(*schema.find("contact")).active());
  EXPECT_FALSE(WireRecordReader(*schema.find("interaction")).active());      // a map
  EXPECT_FALSE(WireRecordReader(*schema.find("canned_response")).active());  // repeated
  std::vector<WireValue> wire;
  EXPECT_FALSE(WireRecordReader(*schema.find("interaction")).read("", wire));
}

TEST(WireRecordReader, Utf8IsCheckedAsProtobufDoes) {
  const std::string valid[] = {"",
                               "plain ascii, longer than eight",
                               "é",
                               "€",
                               "😀",
                               "\x7f",
                               "\xf4\x8f\xbf\xbf",
                               "\xed\x9f\xbf",
                               "abcdefgh\xc3\xa9"};
  for (const std::string& text : valid) EXPECT_TRUE(valid_utf8(text)) << text;
  const std::string invalid[] = {"\xc0\x80",
                                 "\xc1\xbf",
                                 "\xe0\x80\x80",
                                 "\xed\xa0\x80",
                                 "\xf0\x80\x80\x80",
                                 "\xf4\x90\x80\x80",
                                 "\xf5\x80\x80\x80",
                                 "\x80",
                                 "\xc3",
                                 "abcdefgh\xe2\x82",
                                 "\xe2\x28\xa1",
                                 "\xff"};
  for (const std::string& text : invalid)
    EXPECT_FALSE(valid_utf8(text)) << ::testing::PrintToString(text);
}

}  // namespace
}  // namespace outpost
