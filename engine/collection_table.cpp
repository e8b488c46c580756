#include "engine/collection_table.h"

#include <sqlite3.h>

#include <algorithm>
#include <set>

namespace outpost {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

const char* sql_type(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kReal:
      return "REAL";
    case ColumnType::kText:
      return "TEXT";
    case ColumnType::kBlob:
      return "BLOB";
  }
  return "BLOB";
}

// The value an absent proto3 field reads as, so migrated rows match their blobs.
const char* sql_default(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "0";
    case ColumnType::kReal:
      return "0.0";
    case ColumnType::kText:
      return "''";
    case ColumnType::kBlob:
      return "X''";
  }
  return "NULL";
}

std::string key_column(const Collection& c) {
  return c.key_field->name();
}

std::string column_list(const std::vector<const Column*>& columns, const std::string& prefix) {
  std::string out;
  for (const Column* column : columns) {
    if (!out.empty()) out += ", ";
    out += prefix + column->name;
  }
  return out;
}

std::set<std::string> existing_columns(SQLite::Database& db, const std::string& table) {
  std::set<std::string> out;
  SQLite::Statement info(db, "PRAGMA table_info(" + table + ")");
  while (info.executeStep()) out.insert(info.getColumn(1).getString());
  return out;
}

// detail=none and columnsize=0 keep the trigram index small and cheap to maintain (an
// initial sync of contacts is ~3x faster than with detail=full); search() then ANDs the
// trigrams of the text and confirms the substring with LIKE on the candidate rows.
std::string search_table_sql(const Collection& c) {
  return "CREATE VIRTUAL TABLE " + search_table_name(c) + " USING fts5(" +
         column_list(c.searchable(), "") + ", content='" + table_name(c) +
         "', content_rowid='rowid', tokenize='trigram', detail=none, columnsize=0)";
}

void create_search_table(SQLite::Database& db, const Collection& c) {
  const std::string table = table_name(c);
  const std::string fts = search_table_name(c);
  auto searchable = c.searchable();
  const std::string wanted = searchable.empty() ? "" : search_table_sql(c);
  std::string have;
  {
    SQLite::Statement existing(db, "SELECT sql FROM sqlite_master WHERE name = ?");
    existing.bind(1, fts);
    if (existing.executeStep()) have = existing.getColumn(0).getString();
  }
  if (have == wanted) return;
  for (const char* suffix : {"_ai", "_ad", "_au"}) {
    db.exec("DROP TRIGGER IF EXISTS t_" + c.name + suffix);
  }
  db.exec("DROP TABLE IF EXISTS " + fts);
  if (searchable.empty()) return;

  db.exec(wanted);
  db.exec("INSERT INTO " + fts + "(" + fts + ") VALUES ('rebuild')");
}

// The columns of `c` some index covers (its own or a compound one), the key excepted, in
// column order; empty when there are more than kMaxSplitColumns (every column is then set
// by the upsert itself).
constexpr size_t kMaxSplitColumns = 30;
std::vector<size_t> index_covered_columns(const Collection& c) {
  std::set<std::string> covered;
  for (const Column* column : c.indexed()) covered.insert(column->name);
  for (const auto& columns : c.compound_indexes) covered.insert(columns.begin(), columns.end());
  std::vector<size_t> positions;
  for (size_t i = 0; i < c.columns.size(); ++i) {
    if (c.columns[i].field != c.key_field && covered.count(c.columns[i].name) != 0) {
      positions.push_back(i);
    }
  }
  if (positions.size() > kMaxSplitColumns) positions.clear();
  return positions;
}

// Decision 058: SQLite rewrites the entry of every index whose column an UPDATE's SET
// names, even to the same value (a WAL frame per index page per commit). So the conflict
// branch sets the columns no index covers, `_version`, `_body`, and of the indexed ones
// (positions `indexed`) only those whose bit is in `changed`.
std::string upsert_sql(const Collection& c, bool only_if_newer, const std::vector<size_t>& indexed,
                       uint32_t changed) {
  const std::string table = table_name(c);
  std::string names, params, updates;
  for (size_t i = 0; i < c.columns.size(); ++i) {
    const Column& column = c.columns[i];
    names += column.name + ", ";
    params += "?, ";
    if (column.field == c.key_field) continue;
    const auto at = std::find(indexed.begin(), indexed.end(), i);
    if (at != indexed.end() && (changed & (uint32_t{1} << (at - indexed.begin()))) == 0) continue;
    updates += column.name + " = excluded." + column.name + ", ";
  }
  std::string sql = "INSERT INTO " + table + " (" + names + "_version, _body) VALUES (" + params +
                    "?, ?) ON CONFLICT(" + key_column(c) + ") DO UPDATE SET " + updates +
                    "_version = excluded._version, _body = excluded._body";
  if (only_if_newer) sql += " WHERE excluded._version > " + table + "._version";
  return sql;
}

// Which indexed columns (bits in `indexed` order) the stored row holds another value in
// than parameters 1..n: no row when the key is absent.
std::string changed_indexed_sql(const Collection& c, const std::vector<size_t>& indexed) {
  std::string sql = "SELECT ";
  for (size_t bit = 0; bit < indexed.size(); ++bit) {
    sql += std::string(bit == 0 ? "" : " | ") + "((" + c.columns[indexed[bit]].name + " IS NOT ?" +
           std::to_string(bit + 1) + ") << " + std::to_string(bit) + ")";
  }
  if (indexed.empty()) sql += "0";
  return sql + " FROM " + table_name(c) + " WHERE " + key_column(c) + " = ?" +
         std::to_string(indexed.size() + 1);
}

// A raw prepared statement of `db` (SQLiteCpp's Statement binds no text by view).
sqlite3_stmt* prepare_raw(SQLite::Database& db, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  const int rc = sqlite3_prepare_v3(db.getHandle(), sql.c_str(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
  if (rc != SQLITE_OK) throw SQLite::Exception(db.getHandle(), rc);
  return statement;
}

// FTS5's in-memory term hash while a whole index is rebuilt (decision 040), and FTS5's
// own default, restored afterwards. A snapshot's rebuild holds at most this much more.
constexpr int64_t kRebuildTermHashBytes = 8 * 1024 * 1024;
constexpr int64_t kFts5DefaultTermHashBytes = 1024 * 1024;

}  // namespace

std::string table_name(const Collection& collection) {
  return "c_" + collection.name;
}
std::string search_table_name(const Collection& collection) {
  return "f_" + collection.name;
}

void CollectionTable::create_or_migrate(SQLite::Database& db, const Collection& c) {
  const std::string table = table_name(c);
  if (!db.tableExists(table)) {
    std::string ddl = "CREATE TABLE " + table + " (";
    for (const Column& column : c.columns) {
      ddl += column.name + " " + sql_type(column.type);
      if (column.field == c.key_field) {
        ddl += " PRIMARY KEY NOT NULL";
      } else {
        ddl += std::string(" NOT NULL DEFAULT ") + sql_default(column.type);
      }
      ddl += ", ";
    }
    ddl += "_version INTEGER NOT NULL DEFAULT 0, _body BLOB NOT NULL)";
    db.exec(ddl);
  } else {
    std::set<std::string> have = existing_columns(db, table);
    for (const Column& column : c.columns) {
      if (have.count(column.name) != 0) continue;
      // Additive migration: rows written by the older schema lack the field, so the proto3
      // default is exactly what their blobs decode to.
      db.exec("ALTER TABLE " + table + " ADD COLUMN " + column.name + " " + sql_type(column.type) +
              " NOT NULL DEFAULT " + sql_default(column.type));
    }
  }
  create_indexes(db, c);
  create_search_table(db, c);
}

std::vector<std::pair<std::string, std::string>> CollectionTable::secondary_indexes(
    const Collection& c) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Column* column : c.indexed()) {
    out.emplace_back("i_" + c.name + "_" + column->name, column->name);
  }
  for (const auto& columns : c.compound_indexes) {
    std::string name = "i_" + c.name, list;
    for (const std::string& column : columns) {
      name += "_" + column;
      list += (list.empty() ? "" : ", ") + column;
    }
    out.emplace_back(name, list);
  }
  return out;
}

void CollectionTable::create_indexes(SQLite::Database& db, const Collection& c) {
  for (const auto& [name, columns] : secondary_indexes(c)) {
    db.exec("CREATE INDEX IF NOT EXISTS " + name + " ON " + table_name(c) + "(" + columns + ")");
  }
}

void CollectionTable::defer_indexes() {
  if (!has_secondary_indexes_) return;
  any_row_.reset();
  const bool empty = !any_row_.executeStep();
  any_row_.reset();
  if (!empty) return;  // a restart over rows: the indexes stay and are kept in step
  for (const auto& index : secondary_indexes(collection_)) {
    db_.exec("DROP INDEX IF EXISTS " + index.first);
  }
}

void CollectionTable::build_indexes() {
  if (has_secondary_indexes_) create_indexes(db_, collection_);
}

CollectionTable::CollectionTable(SQLite::Database& db, const Collection& c)
    : db_(db),
      collection_(c),
      get_(db, "SELECT _version, _body FROM " + table_name(c) + " WHERE " + key_column(c) + " = ?"),
      indexed_(index_covered_columns(c)),
      changed_indexed_(db, changed_indexed_sql(c, indexed_)),
      upsert_(db, upsert_sql(c, false, indexed_, 0)),
      upsert_if_newer_(db, upsert_sql(c, true, indexed_, 0)),
      remove_(db, "DELETE FROM " + table_name(c) + " WHERE " + key_column(c) + " = ?"),
      remove_if_older_(
          db, "DELETE FROM " + table_name(c) + " WHERE " + key_column(c) + " = ? AND _version < ?"),
      // The wire path sets every indexed column (it does not look the row up first).
      wire_upsert_(prepare_raw(db, upsert_sql(c, false, indexed_, every_indexed()))),
      wire_upsert_if_newer_(prepare_raw(db, upsert_sql(c, true, indexed_, every_indexed()))),
      wire_(c),
      any_row_(db, "SELECT 1 FROM " + table_name(c) + " LIMIT 1"),
      has_secondary_indexes_(!secondary_indexes(c).empty()) {
  for (size_t i = 0; i < c.columns.size(); ++i) {
    if (c.columns[i].field == c.key_field) key_column_ = i;
  }
  auto searchable = c.searchable();
  if (searchable.empty()) return;
  searchable_ = true;
  const std::string table = table_name(c);
  const std::string fts = search_table_name(c);
  const std::string cols = column_list(searchable, "");
  std::string params;
  for (size_t i = 0; i < searchable.size(); ++i) params += ", ?";
  find_ = std::make_unique<SQLite::Statement>(db, "SELECT rowid, _version, " + cols + " FROM " +
                                                      table + " WHERE " + key_column(c) + " = ?");
  unindex_ =
      std::make_unique<SQLite::Statement>(db, "INSERT INTO " + fts + "(" + fts + ", rowid, " +
                                                  cols + ") VALUES ('delete', ?" + params + ")");
  db.exec("CREATE TEMP TABLE IF NOT EXISTS pending_" + c.name + " (row INTEGER PRIMARY KEY)");
  remember_row_ = std::make_unique<SQLite::Statement>(
      db, "INSERT OR IGNORE INTO temp.pending_" + c.name + " (row) VALUES (?)");
  index_rows_ = std::make_unique<SQLite::Statement>(
      db, "INSERT INTO " + fts + "(rowid, " + cols + ") SELECT rowid, " + cols + " FROM " + table +
              " WHERE rowid IN (SELECT row FROM temp.pending_" + c.name + ")");
  forget_rows_ = std::make_unique<SQLite::Statement>(db, "DELETE FROM temp.pending_" + c.name);
}

std::optional<CollectionTable::Existing> CollectionTable::find_for_search(std::string_view key) {
  find_->reset();
  find_->bind(1, std::string(key));  // copied: a view binds no text in SQLiteCpp
  if (!find_->executeStep()) return std::nullopt;
  Existing existing{find_->getColumn(0).getInt64(),
                    static_cast<uint64_t>(find_->getColumn(1).getInt64())};
  return existing;
}

// Removes the index entry of the row `find_` currently points at (still stepped on it).
void CollectionTable::unindex(const Existing& existing) {
  if (pending_.erase(existing.rowid) != 0) {
    find_->reset();
    return;  // written in this transaction and not indexed yet: nothing to remove
  }
  unindex_->reset();
  unindex_->bind(1, existing.rowid);
  const int columns = static_cast<int>(collection_.searchable().size());
  for (int i = 0; i < columns; ++i) unindex_->bind(i + 2, find_->getColumn(i + 2).getText());
  unindex_->exec();
  find_->reset();
}

template <typename Upsert>
bool CollectionTable::write_searchable(std::string_view key, Upsert&& upsert, uint64_t version,
                                       bool only_if_newer) {
  std::optional<Existing> existing = find_for_search(key);
  if (existing && only_if_newer && existing->version >= version) {
    find_->reset();
    return false;
  }
  if (existing) unindex(*existing);
  find_->reset();
  upsert();
  // An upsert keeps the rowid of an existing row.
  pending_.insert(existing ? existing->rowid : db_.getLastInsertRowid());
  return true;
}

bool CollectionTable::remove_searchable(const std::string& key,
                                        std::optional<uint64_t> older_than) {
  std::optional<Existing> existing = find_for_search(key);
  if (!existing || (older_than && existing->version >= *older_than)) {
    find_->reset();
    return false;
  }
  unindex(*existing);
  remove_.reset();
  remove_.bindNoCopy(1, key);
  return remove_.exec() > 0;
}

void CollectionTable::flush_search_index() {
  if (pending_.empty()) return;
  for (int64_t row : pending_) {
    remember_row_->reset();
    remember_row_->bind(1, row);
    remember_row_->exec();
  }
  index_rows_->reset();
  index_rows_->exec();
  forget_rows_->reset();
  forget_rows_->exec();
  pending_.clear();
}

void CollectionTable::set_search_deferred(bool deferred) {
  if (!searchable_) return;
  search_deferred_ = deferred;
  if (deferred) pending_.clear();
}

void CollectionTable::rebuild_search_index() {
  if (!searchable_) return;
  const std::string fts = search_table_name(collection_);
  // The rebuild gathers terms in FTS5's in-memory hash and writes a segment each time it
  // fills: with a larger hash a snapshot's index is written as fewer, larger segments and
  // merged less (14% less CPU for 100k contacts). Back to FTS5's default afterwards, so
  // the row-by-row upkeep and the file's stored settings are what they were.
  db_.exec("INSERT INTO " + fts + "(" + fts + ", rank) VALUES ('hashsize', " +
           std::to_string(kRebuildTermHashBytes) + ")");
  db_.exec("INSERT INTO " + fts + "(" + fts + ") VALUES ('rebuild')");
  db_.exec("INSERT INTO " + fts + "(" + fts + ", rank) VALUES ('hashsize', " +
           std::to_string(kFts5DefaultTermHashBytes) + ")");
  pending_.clear();
  search_deferred_ = false;
}

std::optional<StoredRow> CollectionTable::get(const std::string& key) {
  get_.reset();
  get_.bindNoCopy(1, key);
  if (!get_.executeStep()) return std::nullopt;
  StoredRow row;
  row.version = static_cast<uint64_t>(get_.getColumn(0).getInt64());
  SQLite::Column body = get_.getColumn(1);
  row.body.assign(static_cast<const char*>(body.getBlob()), body.getBytes());
  get_.reset();
  return row;
}

bool CollectionTable::read_into(const std::string& key, Message& out, bool* corrupt) {
  get_.reset();
  get_.bindNoCopy(1, key);
  if (!get_.executeStep()) return false;
  SQLite::Column body = get_.getColumn(1);
  *corrupt = !out.ParseFromArray(body.getBlob(), body.getBytes());
  get_.reset();
  return !*corrupt;
}

namespace {

// Binds the record's value of `column` to parameter `index`.
void bind_column(SQLite::Statement& statement, int index, const Message& record,
                 const Column& column) {
  const google::protobuf::Reflection* reflection = record.GetReflection();
  const FieldDescriptor* field = column.field;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      statement.bind(index, reflection->GetInt32(record, field));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      statement.bind(index, static_cast<int64_t>(reflection->GetInt64(record, field)));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      statement.bind(index, static_cast<int64_t>(reflection->GetUInt32(record, field)));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      statement.bind(index, static_cast<int64_t>(reflection->GetUInt64(record, field)));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      statement.bind(index, reflection->GetBool(record, field) ? 1 : 0);
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      statement.bind(index, reflection->GetEnumValue(record, field));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      statement.bind(index, static_cast<double>(reflection->GetFloat(record, field)));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      statement.bind(index, reflection->GetDouble(record, field));
      break;
    case FieldDescriptor::CPPTYPE_STRING: {
      // A reference into the record, which outlives the statement's exec(): no copy.
      std::string scratch;
      const std::string& value = reflection->GetStringReference(record, field, &scratch);
      const bool copy = &value == &scratch;  // not stored as a std::string: copied
      if (column.type == ColumnType::kBlob) {
        copy ? statement.bind(index, value.data(), static_cast<int>(value.size()))
             : statement.bindNoCopy(index, value.data(), static_cast<int>(value.size()));
      } else {
        copy ? statement.bind(index, value) : statement.bindNoCopy(index, value);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;  // never a column
  }
}

}  // namespace

void CollectionTable::bind_record(SQLite::Statement& statement, const Message& record,
                                  const std::string& body, uint64_t version) {
  int index = 1;
  for (const Column& column : collection_.columns) bind_column(statement, index++, record, column);
  statement.bind(index++, static_cast<int64_t>(version));
  statement.bindNoCopy(index, body.data(), static_cast<int>(body.size()));
}

bool CollectionTable::write(bool only_if_newer, const Message& record, const std::string& body,
                            uint64_t version) {
  SQLite::Statement& upsert = upsert_for(only_if_newer, changed_indexed_columns(record));
  upsert.reset();
  bind_record(upsert, record, body, version);
  return upsert.exec() > 0;
}

uint32_t CollectionTable::changed_indexed_columns(const Message& record) {
  if (indexed_.empty()) return 0;
  // A run of new rows (a snapshot page, initial sync) would pay a look-up per row for no
  // frame saved: after kAbsentRun absent keys in a row the next kUnprobedWrites writes
  // set every indexed column, as an upsert did before decision 058.
  constexpr int kAbsentRun = 4;
  constexpr int kUnprobedWrites = 64;
  const auto every = static_cast<uint32_t>((uint64_t{1} << indexed_.size()) - 1);
  if (unprobed_writes_ > 0) {
    --unprobed_writes_;
    return every;
  }
  changed_indexed_.reset();
  int param = 0;
  for (size_t position : indexed_) {
    bind_column(changed_indexed_, ++param, record, collection_.columns[position]);
  }
  for (const Column& column : collection_.columns) {
    if (column.field == collection_.key_field)
      bind_column(changed_indexed_, param + 1, record, column);
  }
  const bool present = changed_indexed_.executeStep();
  // A new row: the INSERT sets every column.
  const auto changed =
      present ? static_cast<uint32_t>(changed_indexed_.getColumn(0).getInt64()) : 0;
  changed_indexed_.reset();
  absent_run_ = present ? 0 : absent_run_ + 1;
  if (absent_run_ >= kAbsentRun) {
    absent_run_ = 0;
    unprobed_writes_ = kUnprobedWrites;
  }
  return changed;
}

SQLite::Statement& CollectionTable::upsert_for(bool only_if_newer, uint32_t changed) {
  if (changed == 0) return only_if_newer ? upsert_if_newer_ : upsert_;
  // At most kMaxUpsertVariants statements; other combinations set every indexed column.
  constexpr size_t kMaxUpsertVariants = 32;
  uint64_t key = (uint64_t{changed} << 1) | (only_if_newer ? 1 : 0);
  if (upserts_by_change_.size() >= kMaxUpsertVariants && upserts_by_change_.count(key) == 0) {
    changed = static_cast<uint32_t>((uint64_t{1} << indexed_.size()) - 1);
    key = (uint64_t{changed} << 1) | (only_if_newer ? 1 : 0);
  }
  auto found = upserts_by_change_.find(key);
  if (found == upserts_by_change_.end()) {
    auto statement = std::make_unique<SQLite::Statement>(
        db_, upsert_sql(collection_, only_if_newer, indexed_, changed));
    found = upserts_by_change_.emplace(key, std::move(statement)).first;
  }
  return *found->second;
}

void CollectionTable::upsert(const Message& record, const std::string& body, uint64_t version) {
  if (searchable_ && !search_deferred_) {
    write_searchable(
        collection_.key_of(record), [&] { write(false, record, body, version); }, version, false);
    return;
  }
  write(false, record, body, version);
}

bool CollectionTable::upsert_if_newer(const Message& record, const std::string& body,
                                      uint64_t version) {
  if (searchable_ && !search_deferred_) {
    return write_searchable(
        collection_.key_of(record), [&] { write(false, record, body, version); }, version, true);
  }
  return write(true, record, body, version);
}

void CollectionTable::Finalize::operator()(sqlite3_stmt* statement) const {
  sqlite3_finalize(statement);
}

int CollectionTable::exec_wire_row(sqlite3_stmt* statement, const std::string& body,
                                   uint64_t version) {
  sqlite3_reset(statement);
  int rc = SQLITE_OK;
  int index = 1;
  for (size_t i = 0; i < collection_.columns.size() && rc == SQLITE_OK; ++i, ++index) {
    const WireValue& value = wire_row_[i];
    // Views into the body, which outlives the step; never null (the columns are NOT NULL).
    const char* bytes = value.bytes.empty() ? "" : value.bytes.data();
    const int size = static_cast<int>(value.bytes.size());
    switch (collection_.columns[i].type) {
      case ColumnType::kInteger:
        rc = sqlite3_bind_int64(statement, index, value.integer);
        break;
      case ColumnType::kReal:
        rc = sqlite3_bind_double(statement, index, value.real);
        break;
      case ColumnType::kText:
        rc = sqlite3_bind_text(statement, index, bytes, size, SQLITE_STATIC);
        break;
      case ColumnType::kBlob:
        rc = sqlite3_bind_blob(statement, index, bytes, size, SQLITE_STATIC);
        break;
    }
  }
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(statement, index++, static_cast<int64_t>(version));
  if (rc == SQLITE_OK) {
    rc = sqlite3_bind_blob(statement, index, body.empty() ? "" : body.data(),
                           static_cast<int>(body.size()), SQLITE_STATIC);
  }
  if (rc == SQLITE_OK) rc = sqlite3_step(statement);
  const int changed = rc == SQLITE_DONE ? sqlite3_changes(db_.getHandle()) : 0;
  sqlite3_reset(statement);
  if (rc != SQLITE_DONE) throw SQLite::Exception(db_.getHandle(), rc);
  return changed;
}

bool CollectionTable::read_wire(std::string_view body) {
  return wire_.read(body, wire_row_);
}

bool CollectionTable::upsert_wire_if_newer(const std::string& body, uint64_t version) {
  if (searchable_ && !search_deferred_) {
    return write_searchable(
        wire_key(), [&] { exec_wire_row(wire_upsert_.get(), body, version); }, version, true);
  }
  return exec_wire_row(wire_upsert_if_newer_.get(), body, version) > 0;
}

bool CollectionTable::remove(const std::string& key) {
  if (searchable_ && !search_deferred_) return remove_searchable(key, std::nullopt);
  remove_.reset();
  remove_.bindNoCopy(1, key);
  return remove_.exec() > 0;
}

bool CollectionTable::remove_if_older(const std::string& key, uint64_t version) {
  if (searchable_ && !search_deferred_) return remove_searchable(key, version);
  remove_if_older_.reset();
  remove_if_older_.bindNoCopy(1, key);
  remove_if_older_.bind(2, static_cast<int64_t>(version));
  return remove_if_older_.exec() > 0;
}

}  // namespace outpost
