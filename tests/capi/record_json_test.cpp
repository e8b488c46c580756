// The C API's JSON printer (capi/record_json.h) against protobuf's own: for every collection
// of the domain and every mutator's arguments, random records (every field kind they use,
// unknown enum numbers, 64-bit extremes, maps, nested and repeated messages, text with
// quotes, control characters and non-ASCII) print to the same JSON value both ways. Types
// with a float, bytes or a well-known type are left to protobuf's printer.
#include "capi/record_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <boost/json/src.hpp>  // Boost.JSON's implementation, compiled in this test only
#include <random>

#include "engine/schema.h"
#include "outpost/mutations.pb.h"
#include "outpost/protocol.pb.h"

namespace outpost::capi {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

const std::vector<std::string> kTexts = {"",
                                         "plain",
                                         "quote \" and \\ backslash",
                                         "line\nbreak\ttab\r",
                                         std::string("nul\0byte", 8),
                                         "\x01\x1f control",
                                         "caf\xc3\xa9 \xe2\x80\xa8 sep",
                                         "emoji \xf0\x9f\x93\x9e",
                                         "<b>&amp;</b> '"};

class RandomRecords {
 public:
  explicit RandomRecords(uint32_t seed) : random_(seed) {}

  void fill(Message& message, int depth = 0) {
    const Reflection& reflection = *message.GetReflection();
    const Descriptor* type = message.GetDescriptor();
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* field = type->field(i);
      if (coin(3)) continue;  // about a third stay at their default
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && depth > 3) continue;
      const int count = field->is_repeated() ? static_cast<int>(random_() % 4) : 1;
      for (int n = 0; n < count; ++n) set(message, reflection, field, depth);
    }
  }

 private:
  bool coin(int one_in) { return random_() % one_in == 0; }

  int64_t integer() {
    switch (random_() % 5) {
      case 0:
        return 0;
      case 1:
        return std::numeric_limits<int64_t>::max();
      case 2:
        return std::numeric_limits<int64_t>::min();
      case 3:
        return -static_cast<int64_t>(random_() % 1000);
      default:
        return static_cast<int64_t>(random_()) * 1'000'003;
    }
  }

  void set(Message& message, const Reflection& r, const FieldDescriptor* field, int depth) {
    const bool rep = field->is_repeated();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        auto v = static_cast<int32_t>(integer());
        rep ? r.AddInt32(&message, field, v) : r.SetInt32(&message, field, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        auto v = static_cast<uint32_t>(integer());
        rep ? r.AddUInt32(&message, field, v) : r.SetUInt32(&message, field, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        auto v = integer();
        rep ? r.AddInt64(&message, field, v) : r.SetInt64(&message, field, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        auto v = static_cast<uint64_t>(integer());
        rep ? r.AddUInt64(&message, field, v) : r.SetUInt64(&message, field, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool v = coin(2);
        rep ? r.AddBool(&message, field, v) : r.SetBool(&message, field, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* values = field->enum_type();
        int v = coin(6) ? 77
                        : values->value(static_cast<int>(random_() % values->value_count()))
                              ->number();  // 77: a value from a newer schema
        rep ? r.AddEnumValue(&message, field, v) : r.SetEnumValue(&message, field, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string v = kTexts[random_() % kTexts.size()];
        if (field->is_map() || coin(2)) v += std::to_string(random_() % 100);
        rep ? r.AddString(&message, field, v) : r.SetString(&message, field, v);
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        Message* child = rep ? r.AddMessage(&message, field) : r.MutableMessage(&message, field);
        fill(*child, depth + 1);
        break;
      }
      default:
        break;
    }
  }

  std::mt19937 random_;
};

boost::json::value protobuf_json(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(message, &out, options).ok());
  return boost::json::parse(out);
}

std::vector<const Descriptor*> record_types() {
  std::vector<const Descriptor*> types;
  for (const auto& collection : Schema::domain().collections()) {
    types.push_back(collection->descriptor);
  }
  const auto* mutations = mutations::SaveDraft::descriptor()->file();
  for (int i = 0; i < mutations->message_type_count(); ++i) {
    types.push_back(mutations->message_type(i));
  }
  return types;
}

TEST(RecordJson, EveryDomainRecordPrintsAsProtobufDoes) {
  auto* factory = google::protobuf::MessageFactory::generated_factory();
  const auto types = record_types();
  ASSERT_GT(types.size(), 20u);
  size_t printed = 0;
  for (const Descriptor* type : types) {
    ASSERT_TRUE(record_json_supported(type)) << type->full_name();
    for (uint32_t seed = 0; seed < 40; ++seed) {
      std::unique_ptr<Message> message(factory->GetPrototype(type)->New());
      RandomRecords(seed * 7919 + static_cast<uint32_t>(printed)).fill(*message);
      std::string ours;
      ASSERT_TRUE(append_record_json(*message, ours));
      boost::system::error_code ec;
      boost::json::value parsed = boost::json::parse(ours, ec);
      ASSERT_FALSE(ec) << type->full_name() << ": not JSON: " << ours;
      EXPECT_EQ(parsed, protobuf_json(*message))
          << type->full_name() << "\nours:     " << ours
          << "\nprotobuf: " << boost::json::serialize(protobuf_json(*message));
      ++printed;
    }
  }
  EXPECT_GT(printed, 800u);
}

TEST(RecordJson, TypesWithFloatsBytesOrWellKnownTypesAreLeftToProtobuf) {
  EXPECT_FALSE(record_json_supported(google::protobuf::Value::descriptor()));
  EXPECT_FALSE(record_json_supported(protocol::PushRequest::descriptor()));  // bytes args
  protocol::PushRequest request;
  request.set_client_id("c");
  std::string out = "unchanged";
  EXPECT_FALSE(append_record_json(request, out));
  EXPECT_EQ(out, "unchanged");
}

TEST(RecordJson, TextIsEscapedAndDefaultsLeftOut) {
  mutations::SaveDraft args;
  args.mutable_draft()->set_id("d\"1\n");
  std::string out;
  ASSERT_TRUE(append_record_json(args, out));
  EXPECT_EQ(out, R"({"draft":{"id":"d\"1\n"}})");
}

}  // namespace
}  // namespace outpost::capi
