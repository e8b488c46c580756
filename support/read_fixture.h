// The device-side benchmark scenes: one replica and one plain SQLite database holding the
// same rows (interactions of a journal, contacts, canned responses), and the UI reads and
// draft saves timed on both, alternating, in the same run. Used by outpost-bench
// (ui_reads, draft_save) and the Google Benchmark micro-benchmarks.
// Thread rules: one thread per fixture.
#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/replica.h"
#include "transport/wal_checkpointer.h"

namespace outpost::bench {

struct ReadFixtureOptions {
  int interactions = 100'000;
  int days = 100;  // the journal spreads over this many days
  int contacts = 50'000;
  int canned_responses = 2'000;
};

// Per-operation latencies in microseconds, outpost and the plain-SQLite baseline.
struct Samples {
  std::vector<double> outpost_us;
  std::vector<double> sqlite_us;
};

class ReadFixture {
 public:
  // Creates both databases under `dir` (which must exist) and loads them: the replica
  // through Replica::apply (what a pull does), the plain tables in one transaction.
  // Throws SQLite::Exception or std::runtime_error when the disk refuses.
  ReadFixture(const std::string& dir, ReadFixtureOptions options);
  ~ReadFixture();
  ReadFixture(const ReadFixture&) = delete;
  ReadFixture& operator=(const ReadFixture&) = delete;

  // get<Interaction>(key) vs SELECT body WHERE id = ?.
  Samples point_get(int iterations);
  // The 200 newest interactions of one day (index day, started_ms).
  Samples todays_journal(int iterations);
  // Contacts containing a 7-character string (FTS5 trigram vs a LIKE scan).
  Samples contact_search(int iterations);
  // Canned responses containing a 5-character string (FTS5 trigram vs LIKE).
  Samples canned_search(int iterations);
  // mutate("save_draft") (table + outbox, one transaction) vs an autocommit upsert.
  Samples draft_save(int iterations);

  // The replica hands its WAL checkpoints to a WalCheckpointer thread (what SyncAgent
  // does) instead of running them inside the commit that fills the WAL (SQLite's default,
  // which the plain database keeps: the baseline is a plain autocommit write).
  void set_background_checkpoints(bool on);

  const ReadFixtureOptions& options() const { return options_; }

 private:
  void load();

  std::string dir_;
  ReadFixtureOptions options_;
  std::unique_ptr<WalCheckpointer> replica_checkpointer_;  // outlives the replica's hook
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<SQLite::Database> plain_;
  int drafts_saved_ = 0;
};

}  // namespace outpost::bench
