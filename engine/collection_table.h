// One collection's SQLite table inside a device replica: its DDL and additive migration
// (typed columns, indexes, FTS5 trigram table kept in step by triggers), and the cached
// prepared statements the replica reads and writes it with.
// Thread rules: belongs to the Replica (and its connection) that created it.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <google/protobuf/message.h>

#include <memory>
#include <optional>
#include <string>

#include "engine/schema.h"
#include "engine/status.h"

namespace outpost {

// The table holding a collection's rows; FTS5 table for its searchable fields.
std::string table_name(const Collection& collection);
std::string search_table_name(const Collection& collection);

// A stored row: its server version and serialized message.
struct StoredRow {
  uint64_t version = 0;
  std::string body;
};

class CollectionTable {
 public:
  // Creates the table, its indexes and FTS table, or migrates them additively (new
  // columns, new indexes, a rebuilt FTS table when the searchable fields changed).
  // Throws SQLite::Exception (the replica converts it).
  static void create_or_migrate(SQLite::Database& db, const Collection& collection);

  // Prepares the statements; the table must exist. Throws SQLite::Exception.
  CollectionTable(SQLite::Database& db, const Collection& collection);

  const Collection& collection() const { return collection_; }

  // All of these throw SQLite::Exception on database errors.
  std::optional<StoredRow> get(const std::string& key);
  // Inserts or replaces the row.
  void upsert(const google::protobuf::Message& record, const std::string& body, uint64_t version);
  // Inserts, or replaces only a row with an older version; returns whether it wrote.
  bool upsert_if_newer(const google::protobuf::Message& record, const std::string& body,
                       uint64_t version);
  // Returns whether a row was deleted.
  bool remove(const std::string& key);
  // Deletes the row only if its version is older than `version`.
  bool remove_if_older(const std::string& key, uint64_t version);

 private:
  void bind_record(SQLite::Statement& statement, const google::protobuf::Message& record,
                   const std::string& body, uint64_t version);

  SQLite::Database& db_;
  const Collection& collection_;
  SQLite::Statement get_;
  SQLite::Statement upsert_;
  SQLite::Statement upsert_if_newer_;
  SQLite::Statement remove_;
  SQLite::Statement remove_if_older_;
};

}  // namespace outpost
