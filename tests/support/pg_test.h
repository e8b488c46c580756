// A real PostgreSQL 15 for the tests. The shared cluster of this build tree is started
// once by the CTest fixture test pg_cluster_start (tests/support/pg_cluster) and stopped
// by pg_cluster_stop; a test binary run by hand starts it if it is not running. Each test
// gets its own database on it (TestDatabase). A test that stops PostgreSQL uses a
// PrivateCluster so it never disturbs tests running beside it (ctest -j).
// Thread rules: plain objects for one test thread.
#pragma once

#include <string>

namespace outpost::pg_test {

// postgresql://outpost@127.0.0.1:PORT/postgres of the shared cluster (starting it if needed).
std::string shared_cluster_url();

// A fresh, uniquely named database, dropped (with its connections) on destruction.
class TestDatabase {
 public:
  // On the shared cluster, or on the cluster at `cluster_url`.
  TestDatabase();
  explicit TestDatabase(const std::string& cluster_url);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string cluster_url_;
  std::string name_;
  std::string url_;
};

// A cluster of its own (own data directory and port), for tests that stop PostgreSQL.
class PrivateCluster {
 public:
  PrivateCluster();   // started
  ~PrivateCluster();  // stopped and removed
  PrivateCluster(const PrivateCluster&) = delete;
  PrivateCluster& operator=(const PrivateCluster&) = delete;

  const std::string& url() const { return url_; }
  // Kills PostgreSQL as a crash would (pg_ctl stop -m immediate): connections drop mid-
  // transaction, nothing is flushed politely.
  void kill();
  // Starts it again on the same data directory and port.
  void restart();

 private:
  std::string dir_;
  std::string url_;
};

// Runs SQL on `url` (autocommit), returning the first column of the first row ("" if none).
std::string query(const std::string& url, const std::string& sql);

}  // namespace outpost::pg_test
