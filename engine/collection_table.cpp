#include "engine/collection_table.h"

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

void create_search_table(SQLite::Database& db, const Collection& c) {
  const std::string table = table_name(c);
  const std::string fts = search_table_name(c);
  auto searchable = c.searchable();
  std::vector<std::string> wanted;
  for (const Column* column : searchable) wanted.push_back(column->name);

  bool exists = db.tableExists(fts);
  if (exists) {
    std::vector<std::string> have;
    SQLite::Statement info(db, "PRAGMA table_info(" + fts + ")");
    while (info.executeStep()) have.push_back(info.getColumn(1).getString());
    if (have == wanted) return;
  }
  for (const char* suffix : {"_ai", "_ad", "_au"}) {
    db.exec("DROP TRIGGER IF EXISTS t_" + c.name + suffix);
  }
  db.exec("DROP TABLE IF EXISTS " + fts);
  if (searchable.empty()) return;

  const std::string cols = column_list(searchable, "");
  const std::string news = column_list(searchable, "new.");
  const std::string olds = column_list(searchable, "old.");
  db.exec("CREATE VIRTUAL TABLE " + fts + " USING fts5(" + cols + ", content='" + table +
          "', content_rowid='rowid', tokenize='trigram')");
  db.exec("CREATE TRIGGER t_" + c.name + "_ai AFTER INSERT ON " + table + " BEGIN INSERT INTO " +
          fts + "(rowid, " + cols + ") VALUES (new.rowid, " + news + "); END");
  db.exec("CREATE TRIGGER t_" + c.name + "_ad AFTER DELETE ON " + table + " BEGIN INSERT INTO " +
          fts + "(" + fts + ", rowid, " + cols + ") VALUES ('delete', old.rowid, " + olds +
          "); END");
  db.exec("CREATE TRIGGER t_" + c.name + "_au AFTER UPDATE ON " + table + " BEGIN INSERT INTO " +
          fts + "(" + fts + ", rowid, " + cols + ") VALUES ('delete', old.rowid, " + olds +
          "); INSERT INTO " + fts + "(rowid, " + cols + ") VALUES (new.rowid, " + news + "); END");
  db.exec("INSERT INTO " + fts + "(" + fts + ") VALUES ('rebuild')");
}

std::string upsert_sql(const Collection& c, bool only_if_newer) {
  const std::string table = table_name(c);
  std::string names, params, updates;
  for (const Column& column : c.columns) {
    names += column.name + ", ";
    params += "?, ";
    if (column.field != c.key_field) updates += column.name + " = excluded." + column.name + ", ";
  }
  std::string sql = "INSERT INTO " + table + " (" + names + "_version, _body) VALUES (" + params +
                    "?, ?) ON CONFLICT(" + key_column(c) + ") DO UPDATE SET " + updates +
                    "_version = excluded._version, _body = excluded._body";
  if (only_if_newer) sql += " WHERE excluded._version > " + table + "._version";
  return sql;
}

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
  for (const Column* column : c.indexed()) {
    db.exec("CREATE INDEX IF NOT EXISTS i_" + c.name + "_" + column->name + " ON " + table + "(" +
            column->name + ")");
  }
  for (const auto& columns : c.compound_indexes) {
    std::string name = "i_" + c.name, list;
    for (const std::string& column : columns) {
      name += "_" + column;
      list += (list.empty() ? "" : ", ") + column;
    }
    db.exec("CREATE INDEX IF NOT EXISTS " + name + " ON " + table + "(" + list + ")");
  }
  create_search_table(db, c);
}

CollectionTable::CollectionTable(SQLite::Database& db, const Collection& c)
    : db_(db),
      collection_(c),
      get_(db, "SELECT _version, _body FROM " + table_name(c) + " WHERE " + key_column(c) + " = ?"),
      upsert_(db, upsert_sql(c, false)),
      upsert_if_newer_(db, upsert_sql(c, true)),
      remove_(db, "DELETE FROM " + table_name(c) + " WHERE " + key_column(c) + " = ?"),
      remove_if_older_(db, "DELETE FROM " + table_name(c) + " WHERE " + key_column(c) +
                               " = ? AND _version < ?") {}

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

void CollectionTable::bind_record(SQLite::Statement& statement, const Message& record,
                                  const std::string& body, uint64_t version) {
  const google::protobuf::Reflection* reflection = record.GetReflection();
  int index = 1;
  for (const Column& column : collection_.columns) {
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
        std::string value = reflection->GetString(record, field);
        if (column.type == ColumnType::kBlob) {
          statement.bind(index, value.data(), static_cast<int>(value.size()));
        } else {
          statement.bind(index, value);
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;  // never a column
    }
    ++index;
  }
  statement.bind(index++, static_cast<int64_t>(version));
  statement.bindNoCopy(index, body.data(), static_cast<int>(body.size()));
}

void CollectionTable::upsert(const Message& record, const std::string& body, uint64_t version) {
  upsert_.reset();
  bind_record(upsert_, record, body, version);
  upsert_.exec();
}

bool CollectionTable::upsert_if_newer(const Message& record, const std::string& body,
                                      uint64_t version) {
  upsert_if_newer_.reset();
  bind_record(upsert_if_newer_, record, body, version);
  return upsert_if_newer_.exec() > 0;
}

bool CollectionTable::remove(const std::string& key) {
  remove_.reset();
  remove_.bindNoCopy(1, key);
  return remove_.exec() > 0;
}

bool CollectionTable::remove_if_older(const std::string& key, uint64_t version) {
  remove_if_older_.reset();
  remove_if_older_.bindNoCopy(1, key);
  remove_if_older_.bind(2, static_cast<int64_t>(version));
  return remove_if_older_.exec() > 0;
}

}  // namespace outpost
