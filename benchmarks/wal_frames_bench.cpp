// WAL frames per device write transaction (decision 058), load-independent: what a durable
// draft save (`mutate("save_draft")`) and a carried delivery of a draft (`apply_carried`,
// what a fan-out delivery commits) write, against plain SQLite's autocommit upsert of the
// same row. Checkpoints are off, so the -wal file's growth over N transactions is their
// frames; each frame's page is then attributed to its b-tree (the `dbstat` table).
// Usage: outpost_wal_frames_bench [transactions, default 2000]
#include <sqlite3.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/domain_mutators.h"
#include "engine/replica.h"
#include "engine/scope.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"
#include "outpost/protocol.pb.h"

namespace {

using namespace outpost;
namespace fs = std::filesystem;

constexpr int kDraftSlots = 16;  // as the bench's draft_save: a few drafts saved in turn
// Writes before measuring: past a run of new rows, an upsert stops looking for changed
// indexed columns for a while (CollectionTable, decision 058); a device saving or
// receiving its drafts is long past it.
constexpr int kWarmUp = 200;

// The page number of every frame in the -wal file (32-byte header, then per frame a
// 24-byte header whose first word is the page number, big-endian, and the page).
std::vector<uint32_t> wal_pages(const std::string& db_path, int page_size) {
  std::ifstream in(db_path + "-wal", std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<uint32_t> pages;
  for (size_t at = 32; at + 24 + page_size <= bytes.size(); at += 24 + page_size) {
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    pages.push_back((uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3]);
  }
  return pages;
}

// Frames per transaction and per b-tree, for the `count` transactions `run` makes.
template <typename Run>
void report(const char* name, const std::string& path, int count, Run run) {
  SQLite::Database probe(path, SQLite::OPEN_READWRITE);
  probe.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  const int page_size = probe.execAndGet("PRAGMA page_size").getInt();
  run();
  const std::vector<uint32_t> pages = wal_pages(path, page_size);
  std::map<uint32_t, std::string> owner;
  SQLite::Statement stat(probe, "SELECT pageno, name FROM dbstat");
  while (stat.executeStep()) owner[stat.getColumn(0).getUInt()] = stat.getColumn(1).getString();
  std::map<std::string, int> by_tree;
  for (uint32_t page : pages) ++by_tree[owner.count(page) ? owner[page] : "?"];
  std::printf("%-34s %6.2f frames per transaction (%zu over %d)\n", name,
              static_cast<double>(pages.size()) / count, pages.size(), count);
  for (const auto& [tree, frames] : by_tree) {
    std::printf("    %-30s %6.2f\n", tree.c_str(), static_cast<double>(frames) / count);
  }
}

std::unique_ptr<Replica> open_replica(const std::string& path) {
  auto replica = Replica::open(path, Schema::domain(), &domain_mutators(),
                               {.tenant = "acme",
                                .user = "agent-1",
                                .client_id = "wal-frames",
                                .wal_autocheckpoint_pages = 0});
  if (!replica.ok()) throw std::runtime_error(replica.status().to_string());
  return std::move(replica).value();
}

domain::Draft draft(int n) {
  domain::Draft d;
  d.set_id("draft-" + std::to_string(n % kDraftSlots));
  d.set_interaction_id("conv-" + std::to_string(n % kDraftSlots));
  d.set_body("Dear customer, thank you for your patience. Revision " + std::to_string(n));
  d.set_updated_ms(1'000'000 + n);  // as a save sets it: a delivered draft's moves too
  return d;
}

void run(const std::string& dir, int count) {
  const std::string saves = dir + "/saves.db";
  auto saver = open_replica(saves);
  int64_t now_ms = 1'000'000;
  for (int n = 0; n < kWarmUp; ++n) {  // every slot exists before measuring
    mutations::SaveDraft args;
    *args.mutable_draft() = draft(n);
    if (!saver->mutate("save_draft", args, ++now_ms).ok()) throw std::runtime_error("save");
  }
  report("draft save (mutate)", saves, count, [&] {
    for (int n = 0; n < count; ++n) {
      mutations::SaveDraft args;
      *args.mutable_draft() = draft(n);
      auto id = saver->mutate("save_draft", args, ++now_ms);
      if (!id.ok()) throw std::runtime_error(id.status().to_string());
    }
  });

  const std::string deliveries = dir + "/deliveries.db";
  auto device = open_replica(deliveries);
  const std::string scope = ScopeName::user("acme", "agent-1").value().str();
  uint64_t seq = 0;
  auto deliver = [&](int n) {
    protocol::ScopeChanges changes;
    changes.set_scope(scope);
    protocol::Change* change = changes.add_changes();
    change->set_collection("draft");
    change->set_key(draft(n).id());
    change->set_op(protocol::Change::PUT);
    change->set_version(seq + 1);
    change->set_body(draft(n).SerializeAsString());
    changes.set_cursor(seq + 1);
    changes.set_head_seq(seq + 1);
    auto applied = device->apply_carried(changes, seq);
    if (!applied.ok()) throw std::runtime_error(applied.status().to_string());
    ++seq;
  };
  for (int n = 0; n < kWarmUp; ++n) deliver(n);
  report("carried delivery (apply_carried)", deliveries, count, [&] {
    for (int n = 0; n < count; ++n) deliver(n);
  });

  const std::string plain_path = dir + "/plain.db";
  SQLite::Database plain(plain_path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  plain.exec("PRAGMA journal_mode = WAL");
  plain.exec("PRAGMA synchronous = NORMAL");
  plain.exec("PRAGMA wal_autocheckpoint = 0");
  plain.exec("CREATE TABLE draft (id TEXT PRIMARY KEY, body BLOB)");
  SQLite::Statement upsert(plain, "INSERT OR REPLACE INTO draft (id, body) VALUES (?, ?)");
  auto write = [&](int n) {
    const std::string body = draft(n).SerializeAsString();
    upsert.reset();
    upsert.bind(1, draft(n).id());
    upsert.bind(2, body.data(), static_cast<int>(body.size()));
    upsert.exec();
  };
  for (int n = 0; n < kDraftSlots; ++n) write(n);
  report("plain autocommit upsert (baseline)", plain_path, count, [&] {
    for (int n = 0; n < count; ++n) write(n);
  });
}

}  // namespace

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 2000;
  if (Status built = check_built_in_domain(); !built.ok()) {
    std::fprintf(stderr, "%s\n", built.to_string().c_str());
    return 1;
  }
  char pattern[] = "/tmp/outpost-wal-frames-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return 1;
  int rc = 0;
  try {
    run(pattern, count > 0 ? count : 2000);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wal frames bench: %s\n", e.what());
    rc = 1;
  }
  fs::remove_all(pattern);
  return rc;
}
