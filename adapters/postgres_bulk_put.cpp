// The PostgreSQL store's connections and its bulk puts sent without waiting: libpq's
// asynchronous calls on the handle libpqxx connected (decision 054).
#include <libpq-fe.h>

#include <charconv>
#include <string>
#include <utility>
#include <vector>

#include "adapters/postgres_server_store_internal.h"

namespace outpost::pg_detail {
namespace {

// Throws what libpqxx would for a failed statement: a lost connection, or the error with
// its SQLSTATE (status_for maps both).
[[noreturn]] void throw_failure(RawConn* conn, const PGresult* result) {
  std::string message = result != nullptr ? PQresultErrorMessage(result) : "";
  if (message.empty()) message = PQerrorMessage(conn);
  if (PQstatus(conn) != CONNECTION_OK) throw pqxx::broken_connection(message);
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  throw pqxx::sql_error(message, "bulk_put", state);
}

// Reads every result of the statement sent (libpq ends them with a null), keeping the
// first; the connection is then free for the next statement.
struct Results {
  explicit Results(RawConn* conn) {
    for (PGresult* r = PQgetResult(conn); r != nullptr; r = PQgetResult(conn)) {
      if (first == nullptr) {
        first = r;
      } else {
        PQclear(r);
      }
    }
  }
  ~Results() { PQclear(first); }
  Results(const Results&) = delete;
  Results& operator=(const Results&) = delete;
  PGresult* first = nullptr;
};

uint64_t number(const PGresult* result, int row, int column) {
  const char* text = PQgetvalue(result, row, column);
  const char* end = text + PQgetlength(result, row, column);
  uint64_t value = 0;
  if (std::from_chars(text, end, value).ptr != end) {
    throw pqxx::conversion_error("bulk_put answered a non-number: " + std::string(text, end));
  }
  return value;
}

}  // namespace

thread_local HandlePolicy::handle HandlePolicy::last_connected = nullptr;

HandlePolicy::handle HandlePolicy::do_startconnect(handle orig) {
  handle connected = pqxx::connect_direct::do_startconnect(orig);
  last_connected = connected;
  return connected;
}

Conn::Conn(const std::string& url) : db(url), raw(HandlePolicy::last_connected) {
  if (raw == nullptr || PQsocket(raw) != db.sock()) {
    throw pqxx::internal_error("the PostgreSQL connection's libpq handle was not seen");
  }
  // A lost connection is never reopened under the handle above: the pool drops it instead.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  db.inhibit_reactivation(true);
#pragma GCC diagnostic pop
  prepare_statements(db);
}

RawConn* Conn::bulk_put_handle() {
  if (!bulk_put_prepared) {  // libpqxx prepares on first use; libpq's calls need it done
    db.prepare_now("bulk_put");
    bulk_put_prepared = true;
  }
  return raw;
}

void send_bulk_put(RawConn* conn, const BulkPutColumns& columns) {
  const std::string* params[] = {&columns.scope_ids, &columns.collections, &columns.keys,
                                 &columns.versions,  &columns.priorities,  &columns.bodies};
  const char* values[6];
  int lengths[6];
  int formats[6];
  for (int i = 0; i < 6; ++i) {
    values[i] = params[i]->data();
    lengths[i] = static_cast<int>(params[i]->size());  // at most kMaxBufferedBytes + headers
    formats[i] = 1;                                    // binary
  }
  // Blocking mode: returns once the whole statement is in the socket, not its answer.
  if (PQsendQueryPrepared(conn, "bulk_put", 6, values, lengths, formats, 0) == 0) {
    throw_failure(conn, nullptr);
  }
}

bool bulk_put_answered(RawConn* conn) {
  if (PQconsumeInput(conn) == 0) return true;  // broken: receive_bulk_put reports it
  return PQisBusy(conn) == 0;
}

std::vector<std::pair<size_t, uint64_t>> receive_bulk_put(RawConn* conn) {
  const Results results(conn);
  if (results.first == nullptr || PQresultStatus(results.first) != PGRES_TUPLES_OK) {
    throw_failure(conn, results.first);
  }
  std::vector<std::pair<size_t, uint64_t>> old;
  const int rows = PQntuples(results.first);
  old.reserve(static_cast<size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    old.emplace_back(number(results.first, row, 0), number(results.first, row, 1));
  }
  return old;
}

void discard_answer(RawConn* conn) noexcept {
  const Results results(conn);
}

}  // namespace outpost::pg_detail
