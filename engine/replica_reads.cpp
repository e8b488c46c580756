// The UI's reads: get, typed queries, full-text search, plain read-only SQL and counts.
// Each read runs in its own short read transaction (statements are reset when it ends), so
// a reader never holds the WAL back.
#include <sqlite3.h>

#include <algorithm>

#include "engine/replica_internal.h"

namespace outpost {
namespace {

using google::protobuf::Message;
using replica_internal::from_sqlite;
using replica_internal::ResetOnExit;

size_t utf8_length(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

// Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), as
// protobuf requires of every string field. The search splits text into characters by
// their lead bytes; anything else would reach FTS5 as a malformed MATCH expression.
bool is_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t length = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (length == 0 || i + length > text.size()) return false;
    uint32_t code = length == 1 ? c : c & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

void bind_value(SQLite::Statement& statement, int index, const SqlValue& value) {
  if (std::holds_alternative<int64_t>(value)) {
    statement.bind(index, std::get<int64_t>(value));
  } else if (std::holds_alternative<double>(value)) {
    statement.bind(index, std::get<double>(value));
  } else if (std::holds_alternative<std::string>(value)) {
    statement.bind(index, std::get<std::string>(value));
  } else {
    statement.bind(index);
  }
}

const char* op_sql(Condition::Op op) {
  switch (op) {
    case Condition::Op::kEq:
      return " = ?";
    case Condition::Op::kNe:
      return " <> ?";
    case Condition::Op::kLt:
      return " < ?";
    case Condition::Op::kLe:
      return " <= ?";
    case Condition::Op::kGt:
      return " > ?";
    case Condition::Op::kGe:
      return " >= ?";
  }
  return " = ?";
}

// Parses the `_body` blobs in the statement's first column, one record per row.
Result<std::vector<std::unique_ptr<Message>>> read_records(SQLite::Statement& statement,
                                                           const Collection& collection) {
  std::vector<std::unique_ptr<Message>> out;
  while (statement.executeStep()) {
    SQLite::Column body = statement.getColumn(0);
    auto record = collection.new_record();
    if (!record->ParseFromArray(body.getBlob(), body.getBytes())) {
      return error(ErrorCode::kCorrupt, "a stored " + collection.name + " does not parse");
    }
    out.push_back(std::move(record));
  }
  return out;
}

// The FTS5 MATCH expression for `text`: every distinct trigram of its characters, quoted.
// The trigram index (detail=none) finds rows holding every one of them.
std::string trigram_match(const std::string& text) {
  std::vector<std::string> characters;
  for (size_t i = 0; i < text.size();) {
    size_t length = 1;
    unsigned char lead = static_cast<unsigned char>(text[i]);
    if (lead >= 0xF0) {
      length = 4;
    } else if (lead >= 0xE0) {
      length = 3;
    } else if (lead >= 0xC0) {
      length = 2;
    }
    characters.push_back(text.substr(i, length));
    i += length;
  }
  std::vector<std::string> trigrams;
  for (size_t i = 0; i + 3 <= characters.size(); ++i) {
    std::string trigram = characters[i] + characters[i + 1] + characters[i + 2];
    if (std::find(trigrams.begin(), trigrams.end(), trigram) == trigrams.end()) {
      trigrams.push_back(trigram);
    }
  }
  std::string match;
  for (const std::string& trigram : trigrams) {
    if (!match.empty()) match += " AND ";
    match += "\"";
    for (char c : trigram) {
      match += c;
      if (c == '"') match += '"';
    }
    match += "\"";
  }
  return match;
}

// A LIKE pattern (ESCAPE '\') that matches any text containing `text`.
std::string contains_pattern(const std::string& text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += "%";
  return pattern;
}

void bind_sql_params(sqlite3_stmt* raw, const std::vector<SqlValue>& params) {
  for (size_t i = 0; i < params.size(); ++i) {
    int index = static_cast<int>(i + 1);
    const SqlValue& value = params[i];
    if (std::holds_alternative<int64_t>(value)) {
      sqlite3_bind_int64(raw, index, std::get<int64_t>(value));
    } else if (std::holds_alternative<double>(value)) {
      sqlite3_bind_double(raw, index, std::get<double>(value));
    } else if (std::holds_alternative<std::string>(value)) {
      const std::string& s = std::get<std::string>(value);
      sqlite3_bind_text(raw, index, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(raw, index);
    }
  }
}

std::vector<SqlValue> read_sql_row(sqlite3_stmt* raw, int columns) {
  std::vector<SqlValue> row;
  for (int i = 0; i < columns; ++i) {
    switch (sqlite3_column_type(raw, i)) {
      case SQLITE_INTEGER:
        row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(raw, i)));
        break;
      case SQLITE_FLOAT:
        row.emplace_back(sqlite3_column_double(raw, i));
        break;
      case SQLITE_NULL:
        row.emplace_back(std::monostate());
        break;
      default: {
        const void* data = sqlite3_column_blob(raw, i);
        int size = sqlite3_column_bytes(raw, i);
        row.emplace_back(std::string(static_cast<const char*>(data), size));
      }
    }
  }
  return row;
}

}  // namespace

Result<std::unique_ptr<Message>> Replica::get(const std::string& collection_name,
                                              const std::string& key) {
  OUTPOST_ASSIGN_OR_RETURN(const Collection* collection, schema_.require(collection_name));
  try {
    return impl_->get(*collection, key);
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "get " + collection_name);
  }
}

Result<bool> Replica::get_into(const std::string& key, Message& out) {
  const Collection* collection = schema_.find(out.GetDescriptor());
  if (collection == nullptr) {
    return error(ErrorCode::kNotFound, out.GetDescriptor()->full_name() + " is not a collection");
  }
  try {
    bool corrupt = false;
    bool found = impl_->table(*collection).read_into(key, out, &corrupt);
    if (corrupt) {
      return error(ErrorCode::kCorrupt,
                   "stored " + collection->name + " '" + key + "' does not parse");
    }
    return found;
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "get " + collection->name);
  }
}

namespace {

// The SELECT of a typed query (its columns checked against the collection).
Result<std::string> query_statement(const Collection& collection, const Query& query) {
  std::string sql = "SELECT _body FROM " + table_name(collection);
  for (size_t i = 0; i < query.where.size(); ++i) {
    const Condition& condition = query.where[i];
    if (collection.column(condition.column) == nullptr) {
      return error(ErrorCode::kInvalidArgument,
                   "collection '" + collection.name + "' has no column '" + condition.column + "'");
    }
    sql += i == 0 ? " WHERE " : " AND ";
    sql += condition.column + op_sql(condition.op);
  }
  std::string order = query.order_by;
  bool descending = query.descending;
  if (order.empty() && !collection.default_order_column.empty()) {
    order = collection.default_order_column;
    descending = collection.default_order_descending;
  }
  if (order.empty()) order = collection.key_field->name();
  if (collection.column(order) == nullptr) {
    return error(ErrorCode::kInvalidArgument,
                 "collection '" + collection.name + "' has no column '" + order + "' to order by");
  }
  sql += " ORDER BY " + order + (descending ? " DESC" : " ASC");
  if (query.limit > 0) sql += " LIMIT " + std::to_string(query.limit);
  return sql;
}

}  // namespace

Result<std::vector<std::unique_ptr<Message>>> Replica::query(const Query& query) {
  OUTPOST_ASSIGN_OR_RETURN(const Collection* collection, schema_.require(query.collection));
  OUTPOST_ASSIGN_OR_RETURN(std::string sql, query_statement(*collection, query));
  try {
    std::optional<SQLite::Statement> once;
    SQLite::Statement& statement = impl_->cached_or_once(sql, once);
    ResetOnExit reset{statement};
    for (size_t i = 0; i < query.where.size(); ++i) {
      bind_value(statement, static_cast<int>(i + 1), query.where[i].value);
    }
    return read_records(statement, *collection);
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "query " + collection->name);
  }
}

Result<std::vector<std::string>> Replica::query_bytes(const Query& query) {
  OUTPOST_ASSIGN_OR_RETURN(const Collection* collection, schema_.require(query.collection));
  OUTPOST_ASSIGN_OR_RETURN(std::string sql, query_statement(*collection, query));
  try {
    std::optional<SQLite::Statement> once;
    SQLite::Statement& statement = impl_->cached_or_once(sql, once);
    ResetOnExit reset{statement};
    for (size_t i = 0; i < query.where.size(); ++i) {
      bind_value(statement, static_cast<int>(i + 1), query.where[i].value);
    }
    std::vector<std::string> bodies;
    while (statement.executeStep()) {
      SQLite::Column body = statement.getColumn(0);
      bodies.emplace_back(static_cast<const char*>(body.getBlob()), body.getBytes());
    }
    return bodies;
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "query " + collection->name);
  }
}

Result<std::optional<std::string>> Replica::get_bytes(const std::string& collection_name,
                                                      const std::string& key) {
  OUTPOST_ASSIGN_OR_RETURN(const Collection* collection, schema_.require(collection_name));
  try {
    std::optional<StoredRow> row = impl_->table(*collection).get(key);
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(std::move(row->body));
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "get " + collection_name);
  }
}

Result<std::vector<std::unique_ptr<Message>>> Replica::search(const std::string& collection_name,
                                                              const std::string& text,
                                                              const SearchOptions& options) {
  OUTPOST_ASSIGN_OR_RETURN(const Collection* collection, schema_.require(collection_name));
  if (collection->searchable().empty()) {
    return error(ErrorCode::kInvalidArgument,
                 "collection '" + collection->name + "' has no searchable fields");
  }
  if (!is_utf8(text)) return error(ErrorCode::kInvalidArgument, "search text is not UTF-8");
  if (utf8_length(text) < 3) {
    return error(ErrorCode::kInvalidArgument, "search text needs at least 3 characters");
  }
  std::string order = "c." + collection->key_field->name();
  bool descending = options.descending;
  if (options.order_by.empty() && !collection->default_order_column.empty()) {
    order = "c." + collection->default_order_column;
    descending = collection->default_order_descending;
  }
  if (!options.order_by.empty()) {
    if (collection->column(options.order_by) == nullptr) {
      return error(ErrorCode::kInvalidArgument, "collection '" + collection->name +
                                                    "' has no column '" + options.order_by + "'");
    }
    order = "c." + options.order_by;
  }
  const std::string match = trigram_match(text);
  const std::string pattern = contains_pattern(text);
  // LIKE keeps the rows the trigram index found that contain the text itself in one of
  // the searchable fields.
  const std::string fts = search_table_name(*collection);
  std::string confirm;
  for (const Column* column : collection->searchable()) {
    if (!confirm.empty()) confirm += " OR ";
    confirm += "c." + column->name + " LIKE ?2 ESCAPE '\\'";
  }
  std::string sql = "SELECT c._body FROM " + fts + " JOIN " + table_name(*collection) +
                    " c ON c.rowid = " + fts + ".rowid WHERE " + fts + " MATCH ?1 AND (" + confirm +
                    ") ORDER BY " + order + (descending ? " DESC" : " ASC");
  if (options.limit > 0) sql += " LIMIT " + std::to_string(options.limit);
  try {
    std::optional<SQLite::Statement> once;
    SQLite::Statement& statement = impl_->cached_or_once(sql, once);
    ResetOnExit reset{statement};
    statement.bind(1, match);
    statement.bind(2, pattern);
    return read_records(statement, *collection);
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "search " + collection->name);
  }
}

Result<SqlRows> Replica::sql(const std::string& statement_text,
                             const std::vector<SqlValue>& params) {
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(impl_->db.getHandle(), statement_text.c_str(),
                              static_cast<int>(statement_text.size()), &raw, &tail);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> statement(raw, &sqlite3_finalize);
  if (rc != SQLITE_OK || raw == nullptr) {
    return error(ErrorCode::kInvalidArgument,
                 std::string("bad SQL: ") + sqlite3_errmsg(impl_->db.getHandle()));
  }
  while (tail != nullptr && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == ';'))
    ++tail;
  if (tail != nullptr && *tail != '\0') {
    return error(ErrorCode::kInvalidArgument, "one SQL statement at a time");
  }
  if (!sqlite3_stmt_readonly(raw)) {
    return error(ErrorCode::kReadOnly,
                 "only read-only SQL is allowed; change data through mutate()");
  }
  bind_sql_params(raw, params);
  SqlRows out;
  int columns = sqlite3_column_count(raw);
  for (int i = 0; i < columns; ++i) out.columns.emplace_back(sqlite3_column_name(raw, i));
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) out.rows.push_back(read_sql_row(raw, columns));
  if (rc != SQLITE_DONE) {
    return error(ErrorCode::kInvalidArgument,
                 std::string("SQL failed: ") + sqlite3_errmsg(impl_->db.getHandle()));
  }
  return out;
}

Result<uint64_t> Replica::count(const std::string& collection_name) {
  OUTPOST_ASSIGN_OR_RETURN(const Collection* collection, schema_.require(collection_name));
  try {
    SQLite::Statement statement(impl_->db, "SELECT count(*) FROM " + table_name(*collection));
    statement.executeStep();
    return static_cast<uint64_t>(statement.getColumn(0).getInt64());
  } catch (const SQLite::Exception& e) {
    return from_sqlite(e, "count " + collection_name);
  }
}

}  // namespace outpost
