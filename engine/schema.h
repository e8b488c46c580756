// The replicated collections, derived from the protobuf descriptors and their outpost
// options (schema/outpost/options.proto). Both the device replica and the server use a
// Schema to know each collection's key, scope, columns, indexes, search fields, merge
// policy and priority.
// Thread rules: immutable after construction; safe to share between threads.
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"
#include "outpost/options.pb.h"

namespace outpost {

// How a scalar field is stored in a SQLite column.
enum class ColumnType { kInteger, kReal, kText, kBlob };

struct Column {
  const google::protobuf::FieldDescriptor* field = nullptr;
  std::string name;  // the field name
  ColumnType type = ColumnType::kText;
  bool indexed = false;
  bool searchable = false;
};

struct Collection {
  std::string name;
  const google::protobuf::Descriptor* descriptor = nullptr;
  const google::protobuf::FieldDescriptor* key_field = nullptr;
  Scope scope = SCOPE_UNSPECIFIED;
  MergePolicy merge = MERGE_UNSPECIFIED;
  int priority = 0;
  std::vector<Column> columns;  // singular scalar fields, in field-number order
  std::vector<std::vector<std::string>> compound_indexes;  // column names, in index order
  // The order used when a query or search names none (empty: by key).
  std::string default_order_column;
  bool default_order_descending = false;
  std::vector<const Column*> searchable() const;
  std::vector<const Column*> indexed() const;
  const Column* column(const std::string& name) const;

  // Reads the key of a record of this collection.
  std::string key_of(const google::protobuf::Message& record) const;
  // A fresh, empty record of this collection's type.
  std::unique_ptr<google::protobuf::Message> new_record() const;
  // The generated default instance new_record() copies, looked up once when the schema is
  // built (the factory's lookup takes a lock and a hash probe: per row on every read).
  const google::protobuf::Message* prototype = nullptr;
};

class Schema {
 public:
  // Builds a schema from messages carrying the `collection` option. `version` is stored
  // in replicas; a replica written by a higher version is refused.
  static Result<Schema> from_descriptors(const std::vector<const google::protobuf::Descriptor*>&,
                                         uint32_t version);
  // Every collection of a .proto file (its messages with the option), with the file's
  // schema_version option.
  static Result<Schema> from_file(const google::protobuf::FileDescriptor* file);
  // The Mobile Office domain (schema/outpost/domain.proto), built once per process.
  // Errors: the build's status if the compiled-in descriptors are not a valid schema (a
  // defect of the build, never of input). Apps call it once at startup and report it.
  static Result<const Schema*> load_domain();
  // load_domain() for code that runs after it succeeded, and tests: throws
  // std::logic_error with the status on a broken build (decision 016).
  static const Schema& domain();

  uint32_t version() const { return version_; }
  const std::vector<std::shared_ptr<const Collection>>& collections() const { return collections_; }
  // nullptr when unknown.
  const Collection* find(const std::string& name) const;
  const Collection* find(const google::protobuf::Descriptor* descriptor) const;
  Result<const Collection*> require(const std::string& name) const;

 private:
  uint32_t version_ = 0;
  std::vector<std::shared_ptr<const Collection>> collections_;
  std::map<std::string, const Collection*, std::less<>> by_name_;
};

}  // namespace outpost
