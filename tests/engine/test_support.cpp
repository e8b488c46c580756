#include "test_support.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace outpost::testing {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

TempDir::TempDir() {
  std::string pattern = std::filesystem::temp_directory_path().string() + "/outpost-test-XXXXXX";
  char* made = mkdtemp(pattern.data());
  if (made == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

namespace {

void set_scalar(Message& message, const FieldDescriptor* field, int seed, bool repeated) {
  const Reflection* r = message.GetReflection();
  const int value = seed * 100 + field->number();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      repeated ? r->AddInt32(&message, field, value) : r->SetInt32(&message, field, value);
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      repeated ? r->AddInt64(&message, field, value * 1000LL)
               : r->SetInt64(&message, field, value * 1000LL);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      repeated ? r->AddUInt32(&message, field, value) : r->SetUInt32(&message, field, value);
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      repeated ? r->AddUInt64(&message, field, value) : r->SetUInt64(&message, field, value);
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      repeated ? r->AddDouble(&message, field, value + 0.5)
               : r->SetDouble(&message, field, value + 0.5);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      repeated ? r->AddFloat(&message, field, value + 0.25f)
               : r->SetFloat(&message, field, value + 0.25f);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      repeated ? r->AddBool(&message, field, true) : r->SetBool(&message, field, true);
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* e = field->enum_type();
      const auto* v = e->value(e->value_count() - 1);
      repeated ? r->AddEnum(&message, field, v) : r->SetEnum(&message, field, v);
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s = field->name() + "-" + std::to_string(seed) + "-" + std::to_string(value);
      repeated ? r->AddString(&message, field, s) : r->SetString(&message, field, s);
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      Message* child =
          repeated ? r->AddMessage(&message, field) : r->MutableMessage(&message, field);
      fill_fields(*child, seed + 1);
      break;
    }
  }
}

}  // namespace

void fill_fields(Message& message, int seed) {
  const auto* descriptor = message.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated()) {
      for (int k = 0; k < 2; ++k) set_scalar(message, field, seed + k, true);
    } else {
      set_scalar(message, field, seed, false);
    }
  }
}

protocol::Change put_change(const std::string& collection, const std::string& key,
                            const Message& record, uint64_t version) {
  protocol::Change change;
  change.set_collection(collection);
  change.set_key(key);
  change.set_op(protocol::Change::PUT);
  change.set_version(version);
  change.set_body(record.SerializeAsString());
  return change;
}

protocol::Change delete_change(const std::string& collection, const std::string& key,
                               uint64_t version) {
  protocol::Change change;
  change.set_collection(collection);
  change.set_key(key);
  change.set_op(protocol::Change::DELETE);
  change.set_version(version);
  return change;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace outpost::testing
