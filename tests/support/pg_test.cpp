#include "tests/support/pg_test.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>
#include <stdexcept>

namespace outpost::pg_test {
namespace {

// Runs the cluster script, returning its stdout (the URL for start).
std::string run_script(const std::string& command, const std::string& dir) {
  const std::string line =
      std::string(OUTPOST_PG_CLUSTER_SCRIPT) + " " + command + " '" + dir + "'";
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + line);
  std::string out;
  std::array<char, 256> buffer{};
  while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) out += buffer.data();
  const int rc = pclose(pipe);
  if (rc != 0) throw std::runtime_error(line + " failed (" + std::to_string(rc) + ")");
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string with_database(const std::string& cluster_url, const std::string& name) {
  const size_t slash = cluster_url.rfind('/');
  return cluster_url.substr(0, slash + 1) + name;
}

}  // namespace

std::string shared_cluster_url() {
  static const std::string url = [] {
    std::ifstream in(std::string(OUTPOST_PG_DIR) + "/url");
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) {
      try {
        query(line, "SELECT 1");
        return line;
      } catch (const std::exception&) {
        // stale file: start it below
      }
    }
    return run_script("start", OUTPOST_PG_DIR);
  }();
  return url;
}

std::string query(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec(sql);
  if (r.empty() || r.columns() == 0 || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

TestDatabase::TestDatabase() : TestDatabase(shared_cluster_url()) {}

TestDatabase::TestDatabase(const std::string& cluster_url) : cluster_url_(cluster_url) {
  static std::atomic<int> counter{0};
  name_ = "t_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  query(cluster_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  query(cluster_url_, "CREATE DATABASE " + name_);
  url_ = with_database(cluster_url_, name_);
}

TestDatabase::~TestDatabase() {
  try {
    query(cluster_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
    // the cluster is gone (a private one already stopped): nothing to drop
  }
}

PrivateCluster::PrivateCluster() {
  dir_ = std::string(OUTPOST_PG_DIR) + "-p" + std::to_string(getpid());
  run_script("stop", dir_);  // leftovers of an earlier crashed run with the same pid
  url_ = run_script("start", dir_);
}

PrivateCluster::~PrivateCluster() {
  try {
    run_script("stop", dir_);
  } catch (const std::exception&) {
  }
}

void PrivateCluster::kill() {
  run_script("kill", dir_);
}

void PrivateCluster::restart() {
  const std::string again = run_script("start", dir_);
  if (again != url_) throw std::runtime_error("PostgreSQL came back at " + again + ", not " + url_);
}

}  // namespace outpost::pg_test
