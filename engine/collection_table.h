// One collection's SQLite table inside a device replica: its DDL and additive migration
// (typed columns, indexes, an FTS5 trigram table for searchable fields), and the cached
// prepared statements the replica reads and writes it with.
//
// The search index is maintained here, not by triggers: removals are written at once, and
// new or changed rows are indexed in bulk by flush_search_index() before the transaction
// commits (one FTS5 statement per batch instead of one per row: 3x faster syncs).
// Thread rules: belongs to the Replica (and its connection) that created it.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>
#include <google/protobuf/message.h>

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/schema.h"
#include "engine/status.h"
#include "engine/wire_record.h"

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
  // Parses the row straight into `out` (no intermediate copy); false when absent or when
  // the stored body does not parse (`*corrupt` is then set).
  bool read_into(const std::string& key, google::protobuf::Message& out, bool* corrupt);
  // Inserts or replaces the row.
  void upsert(const google::protobuf::Message& record, const std::string& body, uint64_t version);
  // Inserts, or replaces only a row with an older version; returns whether it wrote.
  bool upsert_if_newer(const google::protobuf::Message& record, const std::string& body,
                       uint64_t version);
  // The fast path of the apply (decision 060): reads `body`'s column values straight from
  // its bytes into this table's scratch row; false when it is not a flat record in its
  // canonical form, and the caller parses it with protobuf instead.
  bool read_wire(std::string_view body);
  // The key of the row read_wire() read last.
  std::string_view wire_key() const { return wire_row_[key_column_].bytes; }
  // upsert_if_newer() of the row read_wire() read last; `body` is the bytes it read.
  bool upsert_wire_if_newer(const std::string& body, uint64_t version);
  // Returns whether a row was deleted.
  bool remove(const std::string& key);
  // Deletes the row only if its version is older than `version`.
  bool remove_if_older(const std::string& key, uint64_t version);

  // Indexes the rows written since the last flush; call before every commit.
  void flush_search_index();

  // While a scope's snapshot loads, its search index is not kept in step row by row: the
  // writes skip it (no lookup of the old row, no index entry) and rebuild_search_index()
  // builds it in one pass once the snapshot is in (decision 029). The replica keeps the
  // state in `_meta` so a kill mid-snapshot resumes deferred.
  bool searchable() const { return searchable_; }
  bool search_deferred() const { return search_deferred_; }
  // Entering drops the rows still to index: the rebuild covers them.
  void set_search_deferred(bool deferred);
  // The whole index rebuilt from the table (FTS5 'rebuild'); leaves deferral.
  void rebuild_search_index();

  // A snapshot into an empty table builds its secondary indexes once its rows are in
  // (decision 060): defer_indexes() drops them while the table has no row (in the caller's
  // transaction), build_indexes() creates the missing ones, sorted, when the snapshot
  // completes. Reads stay exact meanwhile (without the index). The file is the state: a
  // kill or a rolled-back last page leaves them missing until a snapshot's end or a
  // writable open (its migration) creates them.
  void defer_indexes();
  void build_indexes();
  // The collection's secondary indexes as (name, column list), in creation order.
  static std::vector<std::pair<std::string, std::string>> secondary_indexes(const Collection& c);
  static void create_indexes(SQLite::Database& db, const Collection& c);
  // The rows still to index: saved before a savepoint, restored when rolling back to it;
  // dropped when the whole transaction rolls back.
  std::unordered_set<int64_t> pending_search_rows() const { return pending_; }
  void restore_pending_search_rows(std::unordered_set<int64_t> rows) { pending_ = std::move(rows); }
  void discard_pending_search_rows() { pending_.clear(); }

 private:
  struct Existing {
    int64_t rowid = 0;
    uint64_t version = 0;
  };
  void bind_record(SQLite::Statement& statement, const google::protobuf::Message& record,
                   const std::string& body, uint64_t version);
  // Upserts the row, setting of its indexed columns only those the record changes
  // (decision 058). Returns whether it wrote.
  bool write(bool only_if_newer, const google::protobuf::Message& record, const std::string& body,
             uint64_t version);
  // Bits (in indexed_ order) of the indexed columns whose stored value differs; 0 if absent.
  uint32_t changed_indexed_columns(const google::protobuf::Message& record);
  // Every indexed column's bit.
  uint32_t every_indexed() const {
    return static_cast<uint32_t>((uint64_t{1} << indexed_.size()) - 1);
  }
  SQLite::Statement& upsert_for(bool only_if_newer, uint32_t changed);
  // Binds the wire row to `statement` (a raw one: SQLiteCpp binds no text by view) and runs
  // it; returns the rows it changed.
  int exec_wire_row(sqlite3_stmt* statement, const std::string& body, uint64_t version);
  // Searchable collections: the current row, with its index entry removed if it has one.
  std::optional<Existing> find_for_search(std::string_view key);
  void unindex(const Existing& existing);
  // `upsert()` writes the row with the unconditional upsert.
  template <typename Upsert>
  bool write_searchable(std::string_view key, Upsert&& upsert, uint64_t version,
                        bool only_if_newer);
  bool remove_searchable(const std::string& key, std::optional<uint64_t> older_than);

  SQLite::Database& db_;
  const Collection& collection_;
  SQLite::Statement get_;
  // Positions in collection_.columns of the columns an index covers (not the key).
  std::vector<size_t> indexed_;
  SQLite::Statement changed_indexed_;
  // Upserts that set no indexed column; those that set some are in upserts_by_change_.
  SQLite::Statement upsert_;
  SQLite::Statement upsert_if_newer_;
  SQLite::Statement remove_;
  SQLite::Statement remove_if_older_;
  // Searchable collections only.
  bool searchable_ = false;
  bool search_deferred_ = false;
  std::unique_ptr<SQLite::Statement> find_;
  std::unique_ptr<SQLite::Statement> unindex_;
  std::unique_ptr<SQLite::Statement> remember_row_;
  std::unique_ptr<SQLite::Statement> index_rows_;
  std::unique_ptr<SQLite::Statement> forget_rows_;
  std::unordered_set<int64_t> pending_;  // rowids written but not yet indexed
  int absent_run_ = 0;                   // consecutive writes whose key was absent
  int unprobed_writes_ = 0;              // writes left that set every indexed column unprobed
  // Upserts by (indexed columns they set << 1 | only if newer).
  std::unordered_map<uint64_t, std::unique_ptr<SQLite::Statement>> upserts_by_change_;
  // The fast path's reader, its scratch row (one value per column) and raw statements.
  struct Finalize {
    void operator()(sqlite3_stmt* statement) const;
  };
  std::unique_ptr<sqlite3_stmt, Finalize> wire_upsert_;
  std::unique_ptr<sqlite3_stmt, Finalize> wire_upsert_if_newer_;
  WireRecordReader wire_;
  std::vector<WireValue> wire_row_;
  size_t key_column_ = 0;
  SQLite::Statement any_row_;  // whether the table holds a row
  bool has_secondary_indexes_ = false;
};

}  // namespace outpost
