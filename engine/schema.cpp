#include "engine/schema.h"

#include <stdexcept>

#include "outpost/domain.pb.h"

namespace outpost {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

bool column_type_of(const FieldDescriptor* field, ColumnType* type) {
  if (field->is_repeated() || field->is_map()) return false;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
    case FieldDescriptor::CPPTYPE_BOOL:
    case FieldDescriptor::CPPTYPE_ENUM:
      *type = ColumnType::kInteger;
      return true;
    case FieldDescriptor::CPPTYPE_FLOAT:
    case FieldDescriptor::CPPTYPE_DOUBLE:
      *type = ColumnType::kReal;
      return true;
    case FieldDescriptor::CPPTYPE_STRING:
      *type = field->type() == FieldDescriptor::TYPE_BYTES ? ColumnType::kBlob : ColumnType::kText;
      return true;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return false;
  }
  return false;
}

bool valid_identifier(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

Result<std::shared_ptr<Collection>> build_collection(const Descriptor* descriptor) {
  const CollectionOptions& options = descriptor->options().GetExtension(outpost::collection);
  auto out = std::make_shared<Collection>();
  out->name = options.name();
  out->descriptor = descriptor;
  out->prototype = google::protobuf::MessageFactory::generated_factory()->GetPrototype(descriptor);
  out->scope = options.scope();
  out->merge = options.merge();
  out->priority = options.priority();
  const std::string where = "collection " + descriptor->full_name();
  if (!valid_identifier(out->name)) {
    return error(ErrorCode::kInvalidArgument, where + ": name must be [a-z0-9_]{1,64}");
  }
  if (out->scope == SCOPE_UNSPECIFIED) {
    return error(ErrorCode::kInvalidArgument, where + ": scope is not set");
  }
  if (out->merge == MERGE_UNSPECIFIED) {
    return error(ErrorCode::kInvalidArgument, where + ": merge policy is not set");
  }
  out->key_field = descriptor->FindFieldByName(options.key_field());
  if (out->key_field == nullptr || out->key_field->is_repeated() ||
      out->key_field->cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
    return error(ErrorCode::kInvalidArgument, where + ": key_field '" + options.key_field() +
                                                  "' is not a singular string field");
  }
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    const FieldOptions& field_options = field->options().GetExtension(outpost::field);
    ColumnType type;
    if (!column_type_of(field, &type)) {
      if (field_options.indexed() || field_options.searchable()) {
        return error(ErrorCode::kInvalidArgument, where + ": field '" + field->name() +
                                                      "' is not a singular scalar and cannot "
                                                      "be indexed or searched");
      }
      continue;
    }
    if (!valid_identifier(field->name()) || field->name()[0] == '_') {
      return error(ErrorCode::kInvalidArgument,
                   where + ": field name '" + field->name() + "' is not usable as a column");
    }
    if (field_options.searchable() && type != ColumnType::kText) {
      return error(ErrorCode::kInvalidArgument,
                   where + ": searchable field '" + field->name() + "' must be a string");
    }
    out->columns.push_back(
        Column{field, field->name(), type, field_options.indexed(), field_options.searchable()});
  }
  for (const std::string& spec : options.compound_indexes()) {
    std::vector<std::string> names;
    size_t start = 0;
    while (start <= spec.size()) {
      size_t comma = spec.find(',', start);
      if (comma == std::string::npos) comma = spec.size();
      names.push_back(spec.substr(start, comma - start));
      start = comma + 1;
    }
    for (const std::string& name : names) {
      if (out->column(name) == nullptr) {
        return error(ErrorCode::kInvalidArgument,
                     where + ": compound index '" + spec + "' names no column '" + name + "'");
      }
    }
    out->compound_indexes.push_back(std::move(names));
  }
  if (!options.default_order().empty()) {
    std::string order = options.default_order();
    out->default_order_descending = order.front() == '-';
    if (out->default_order_descending) order.erase(0, 1);
    if (out->column(order) == nullptr) {
      return error(ErrorCode::kInvalidArgument,
                   where + ": default order names no column '" + order + "'");
    }
    out->default_order_column = order;
  }
  return out;
}

}  // namespace

std::vector<const Column*> Collection::searchable() const {
  std::vector<const Column*> out;
  for (const Column& c : columns) {
    if (c.searchable) out.push_back(&c);
  }
  return out;
}

std::vector<const Column*> Collection::indexed() const {
  std::vector<const Column*> out;
  for (const Column& c : columns) {
    if (c.indexed) out.push_back(&c);
  }
  return out;
}

const Column* Collection::column(const std::string& name) const {
  for (const Column& c : columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string Collection::key_of(const google::protobuf::Message& record) const {
  return record.GetReflection()->GetString(record, key_field);
}

std::unique_ptr<google::protobuf::Message> Collection::new_record() const {
  const google::protobuf::Message* from =
      prototype != nullptr
          ? prototype
          : google::protobuf::MessageFactory::generated_factory()->GetPrototype(descriptor);
  return std::unique_ptr<google::protobuf::Message>(from->New());
}

Result<Schema> Schema::from_descriptors(const std::vector<const Descriptor*>& descriptors,
                                        uint32_t version) {
  Schema schema;
  schema.version_ = version;
  for (const Descriptor* descriptor : descriptors) {
    if (!descriptor->options().HasExtension(outpost::collection)) {
      return error(ErrorCode::kInvalidArgument,
                   "message " + descriptor->full_name() + " has no outpost.collection option");
    }
    OUTPOST_ASSIGN_OR_RETURN(auto collection, build_collection(descriptor));
    if (schema.by_name_.count(collection->name) != 0) {
      return error(ErrorCode::kInvalidArgument,
                   "collection '" + collection->name + "' is defined twice");
    }
    schema.by_name_[collection->name] = collection.get();
    schema.collections_.push_back(std::move(collection));
  }
  return schema;
}

Result<Schema> Schema::from_file(const google::protobuf::FileDescriptor* file) {
  std::vector<const Descriptor*> descriptors;
  for (int i = 0; i < file->message_type_count(); ++i) {
    if (file->message_type(i)->options().HasExtension(outpost::collection)) {
      descriptors.push_back(file->message_type(i));
    }
  }
  return from_descriptors(descriptors, file->options().GetExtension(outpost::schema_version));
}

Result<const Schema*> Schema::load_domain() {
  static const Result<Schema>* built =
      new Result<Schema>(from_file(domain::AgentState::descriptor()->file()));
  if (!built->ok()) return built->status().with_context("the built-in domain schema");
  return &built->value();
}

const Schema& Schema::domain() {
  Result<const Schema*> loaded = load_domain();
  // The domain schema is compiled in: failing here is a defect of the build.
  if (!loaded.ok()) throw std::logic_error(loaded.status().to_string());
  return **loaded;
}

const Collection* Schema::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const Collection* Schema::find(const Descriptor* descriptor) const {
  for (const auto& collection : collections_) {
    if (collection->descriptor == descriptor) return collection.get();
  }
  return nullptr;
}

Result<const Collection*> Schema::require(const std::string& name) const {
  const Collection* collection = find(name);
  if (collection == nullptr) {
    return error(ErrorCode::kNotFound, "unknown collection '" + name + "'");
  }
  return collection;
}

}  // namespace outpost
