#include "support/read_fixture.h"

#include <chrono>
#include <random>
#include <stdexcept>

#include "engine/domain_mutators.h"
#include "engine/scope.h"
#include "outpost/domain.pb.h"
#include "outpost/mutations.pb.h"

namespace outpost::bench {
namespace {

namespace d = outpost::domain;
using Clock = std::chrono::steady_clock;

constexpr int kApplyBatch = 5000;
constexpr int kJournalLimit = 200;
constexpr uint32_t kSearchLimit = 50;
constexpr int kDraftSlots = 50;
const char* kFirstNames[] = {"Ann",  "Bert", "Chloe", "Dirk", "Els",  "Frank", "Greet", "Hans",
                             "Ilse", "Jan",  "Karel", "Lies", "Marc", "Nele",  "Olaf",  "Pieter"};
const char* kLastNames[] = {"Peeters", "Janssens", "Maes",    "Jacobs",  "Mertens", "Willems",
                            "Claes",   "Goossens", "Wouters", "De Smet", "Dubois",  "Lambert"};
const char* kTopics[] = {"Delivery delay", "Refund",  "Password reset", "Invoice copy",
                         "Address change", "Opening", "Complaint",      "Thank you"};

std::string day_of(int i, int days) {
  char buffer[16];
  snprintf(buffer, sizeof(buffer), "2026-%02d-%02d", 1 + (i % days) / 28 % 12, 1 + (i % days) % 28);
  return buffer;
}

d::Interaction make_interaction(int i, int days) {
  d::Interaction interaction;
  interaction.set_id("conv-" + std::to_string(i));
  interaction.set_media(static_cast<d::MediaType>(1 + i % 5));
  interaction.set_direction(d::DIRECTION_INBOUND);
  interaction.set_state(d::INTERACTION_QUALIFIED);
  interaction.set_peer_address("+3225550" + std::to_string(1000 + i % 9000));
  interaction.set_peer_name(std::string(kFirstNames[i % 16]) + " " + kLastNames[i % 12]);
  interaction.set_started_ms(1'790'000'000'000LL + static_cast<int64_t>(i) * 60'000);
  interaction.set_duration_s(30 + i % 600);
  interaction.set_agent_user_id("agent-1");
  interaction.set_queue_name("Support");
  interaction.set_wrapup_code_name("Solved");
  (*interaction.mutable_participant_data())["customer_segment"] = "gold";
  interaction.set_day(day_of(i, days));
  return interaction;
}

d::Contact make_contact(int i) {
  d::Contact contact;
  contact.set_id("contact-" + std::to_string(i));
  contact.set_first_name(std::string(kFirstNames[i % 16]) + std::to_string(i % 97));
  contact.set_last_name(std::string(kLastNames[(i / 16) % 12]) + std::to_string(i));
  contact.set_company("Company " + std::to_string(i % 500));
  contact.set_work_phone("+3225" + std::to_string(1000000 + i));
  contact.set_cell_phone("+32475" + std::to_string(100000 + i));
  contact.set_work_email("person" + std::to_string(i) + "@example.com");
  return contact;
}

d::CannedResponse make_canned_response(int i) {
  d::CannedResponse response;
  response.set_id("response-" + std::to_string(i));
  response.set_title(std::string(kTopics[i % 8]) + " R" + std::to_string(1000 + i));
  response.set_text("Dear {{customer_name}}, thank you for contacting us about " +
                    std::string(kTopics[i % 8]) +
                    ". We have looked into your question and will get back to you within two "
                    "working days. Kind regards, {{agent_name}}");
  response.set_library_id("library-1");
  response.set_library_name("Customer service");
  return response;
}

template <typename Fn>
double time_us(Fn&& fn) {
  auto start = Clock::now();
  fn();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

template <typename Record>
void parse_rows(SQLite::Statement& statement, std::vector<Record>& rows) {
  while (statement.executeStep()) {
    rows.emplace_back();
    rows.back().ParseFromArray(statement.getColumn(0).getBlob(), statement.getColumn(0).getBytes());
  }
}

// Adds one PUT to `scope` of a pull response.
void add_change(protocol::ScopeChanges* scope, const std::string& collection,
                const std::string& key, const std::string& body, uint64_t version) {
  auto* change = scope->add_changes();
  change->set_collection(collection);
  change->set_key(key);
  change->set_op(protocol::Change::PUT);
  change->set_version(version);
  change->set_body(body);
}

}  // namespace

ReadFixture::ReadFixture(const std::string& dir, ReadFixtureOptions options)
    : dir_(dir), options_(options) {
  auto replica = Replica::open(dir + "/device.db", Schema::domain(), &domain_mutators(),
                               {.tenant = "acme", .user = "agent-1", .client_id = "read-fixture"});
  if (!replica.ok()) throw std::runtime_error(replica.status().to_string());
  replica_ = std::move(replica).value();
  plain_ = std::make_unique<SQLite::Database>(dir + "/plain.db",
                                              SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  // The same connection settings as the replica (WAL, mmap, page cache), so the ratio is
  // the engine's own cost, not a configuration difference.
  plain_->exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA mmap_size = 268435456; "
      "PRAGMA cache_size = -16384");
  plain_->exec(
      "CREATE TABLE interaction (id TEXT PRIMARY KEY, day TEXT, started_ms INTEGER, body BLOB);"
      "CREATE INDEX i_day ON interaction(day); CREATE INDEX i_started ON interaction(started_ms);"
      "CREATE INDEX i_day_started ON interaction(day, started_ms);"
      "CREATE TABLE contact (id TEXT PRIMARY KEY, first_name TEXT, last_name TEXT, "
      "work_phone TEXT, cell_phone TEXT, work_email TEXT, body BLOB);"
      "CREATE TABLE canned_response (id TEXT PRIMARY KEY, title TEXT, text TEXT, body BLOB);"
      "CREATE TABLE draft (id TEXT PRIMARY KEY, body BLOB)");
  load();
}

ReadFixture::~ReadFixture() = default;

void ReadFixture::set_background_checkpoints(bool on) {
  Status set = Status::Ok();
  if (on) {
    replica_checkpointer_ = std::make_unique<WalCheckpointer>(replica_->path());
    set = replica_->hand_off_checkpoints(
        [checkpointer = replica_checkpointer_.get()] { checkpointer->poke(); },
        kWalCheckpointRequestPages, kWalSafetyAutocheckpointPages);
  } else {
    set = replica_->hand_off_checkpoints(nullptr, 0, 0);
    replica_checkpointer_.reset();
  }
  if (!set.ok()) throw std::runtime_error(set.to_string());
}

void ReadFixture::load() {
  uint64_t version = 1;
  SQLite::Transaction tx(*plain_);
  SQLite::Statement insert_interaction(*plain_, "INSERT INTO interaction VALUES (?, ?, ?, ?)");
  SQLite::Statement insert_contact(*plain_, "INSERT INTO contact VALUES (?, ?, ?, ?, ?, ?, ?)");
  SQLite::Statement insert_canned(*plain_, "INSERT INTO canned_response VALUES (?, ?, ?, ?)");
  auto apply = [&](protocol::PullResponse& response) {
    response.mutable_scopes(0)->set_cursor(version);
    Status applied = replica_->apply(response).status();
    if (!applied.ok()) throw std::runtime_error(applied.to_string());
    response.Clear();
  };
  protocol::PullResponse response;
  for (int start = 0; start < options_.interactions; start += kApplyBatch) {
    auto* scope = response.add_scopes();
    scope->set_scope(ScopeName::format_user("acme", "agent-1"));
    for (int i = start; i < std::min(options_.interactions, start + kApplyBatch); ++i) {
      d::Interaction interaction = make_interaction(i, options_.days);
      std::string body = interaction.SerializeAsString();
      add_change(scope, "interaction", interaction.id(), body, version++);
      insert_interaction.reset();
      insert_interaction.bind(1, interaction.id());
      insert_interaction.bind(2, interaction.day());
      insert_interaction.bind(3, static_cast<int64_t>(interaction.started_ms()));
      insert_interaction.bind(4, body.data(), static_cast<int>(body.size()));
      insert_interaction.exec();
    }
    apply(response);
  }
  for (int start = 0; start < options_.contacts; start += kApplyBatch) {
    auto* scope = response.add_scopes();
    scope->set_scope(ScopeName::format_org("acme"));
    for (int i = start; i < std::min(options_.contacts, start + kApplyBatch); ++i) {
      d::Contact contact = make_contact(i);
      std::string body = contact.SerializeAsString();
      add_change(scope, "contact", contact.id(), body, version++);
      insert_contact.reset();
      insert_contact.bind(1, contact.id());
      insert_contact.bind(2, contact.first_name());
      insert_contact.bind(3, contact.last_name());
      insert_contact.bind(4, contact.work_phone());
      insert_contact.bind(5, contact.cell_phone());
      insert_contact.bind(6, contact.work_email());
      insert_contact.bind(7, body.data(), static_cast<int>(body.size()));
      insert_contact.exec();
    }
    apply(response);
  }
  for (int start = 0; start < options_.canned_responses; start += kApplyBatch) {
    auto* scope = response.add_scopes();
    scope->set_scope(ScopeName::format_org("acme"));
    for (int i = start; i < std::min(options_.canned_responses, start + kApplyBatch); ++i) {
      d::CannedResponse canned = make_canned_response(i);
      std::string body = canned.SerializeAsString();
      add_change(scope, "canned_response", canned.id(), body, version++);
      insert_canned.reset();
      insert_canned.bind(1, canned.id());
      insert_canned.bind(2, canned.title());
      insert_canned.bind(3, canned.text());
      insert_canned.bind(4, body.data(), static_cast<int>(body.size()));
      insert_canned.exec();
    }
    apply(response);
  }
  tx.commit();
}

Samples ReadFixture::point_get(int iterations) {
  std::mt19937 rng(1);
  SQLite::Statement plain(*plain_, "SELECT body FROM interaction WHERE id = ?");
  Samples samples;
  for (int n = 0; n < iterations; ++n) {
    std::string key = "conv-" + std::to_string(rng() % options_.interactions);
    samples.outpost_us.push_back(time_us([&] {
      auto record = replica_->get<d::Interaction>(key);
      if (!record.ok() || !*record) throw std::runtime_error("point get missed " + key);
    }));
    samples.sqlite_us.push_back(time_us([&] {
      plain.reset();
      plain.bind(1, key);
      std::vector<d::Interaction> rows;
      parse_rows(plain, rows);
      if (rows.size() != 1) throw std::runtime_error("plain point get missed " + key);
    }));
  }
  return samples;
}

Samples ReadFixture::todays_journal(int iterations) {
  std::mt19937 rng(2);
  SQLite::Statement plain(*plain_,
                          "SELECT body FROM interaction WHERE day = ? ORDER BY started_ms DESC "
                          "LIMIT " +
                              std::to_string(kJournalLimit));
  Samples samples;
  for (int n = 0; n < iterations; ++n) {
    std::string day = day_of(static_cast<int>(rng() % options_.days), options_.days);
    size_t outpost_rows = 0;
    samples.outpost_us.push_back(time_us([&] {
      Query query;
      query.collection = "interaction";
      query.where.push_back({"day", Condition::Op::kEq, day});
      query.order_by = "started_ms";
      query.descending = true;
      query.limit = kJournalLimit;
      auto rows = replica_->query(query);
      if (!rows.ok()) throw std::runtime_error(rows.status().to_string());
      outpost_rows = rows->size();
    }));
    size_t plain_rows = 0;
    // Both sides free their rows inside the timing, as outpost's result goes out of scope
    // in its lambda (the baseline's vector used to outlive it: its frees went untimed).
    samples.sqlite_us.push_back(time_us([&] {
      plain.reset();
      plain.bind(1, day);
      std::vector<d::Interaction> rows;
      parse_rows(plain, rows);
      plain_rows = rows.size();
    }));
    if (plain_rows != outpost_rows) throw std::runtime_error("journal rows differ");
  }
  return samples;
}

namespace {

// A "contains" search timed on both sides: Replica::search (FTS5 trigram) and `plain`, a
// LIKE scan with the pattern in ?1 — what an app without a search index would write.
template <typename Record, typename Needle>
Samples search_scene(Replica& replica, SQLite::Statement& plain, int iterations,
                     const std::string& collection, const SearchOptions& options, Needle needle) {
  Samples samples;
  for (int n = 0; n < iterations; ++n) {
    const std::string text = needle();
    samples.outpost_us.push_back(time_us([&] {
      auto rows = replica.search(collection, text, options);
      if (!rows.ok()) throw std::runtime_error(rows.status().to_string());
    }));
    samples.sqlite_us.push_back(time_us([&] {
      plain.reset();
      plain.bind(1, "%" + text + "%");
      std::vector<Record> rows;
      parse_rows(plain, rows);
    }));
  }
  return samples;
}

}  // namespace

Samples ReadFixture::contact_search(int iterations) {
  std::mt19937 rng(3);
  SQLite::Statement plain(*plain_,
                          "SELECT body FROM contact WHERE first_name LIKE ?1 OR last_name LIKE ?1 "
                          "OR work_phone LIKE ?1 OR cell_phone LIKE ?1 OR work_email LIKE ?1 "
                          "ORDER BY first_name LIMIT " +
                              std::to_string(kSearchLimit));
  const int range = std::max(1, std::min(options_.contacts, 9000));
  return search_scene<d::Contact>(*replica_, plain, iterations, "contact",
                                  {.order_by = "first_name", .limit = kSearchLimit},
                                  [&] { return "son" + std::to_string(1000 + rng() % range); });
}

Samples ReadFixture::canned_search(int iterations) {
  std::mt19937 rng(4);
  SQLite::Statement plain(*plain_,
                          "SELECT body FROM canned_response WHERE title LIKE ?1 OR text LIKE ?1 "
                          "ORDER BY title DESC LIMIT " +
                              std::to_string(kSearchLimit));
  return search_scene<d::CannedResponse>(
      *replica_, plain, iterations, "canned_response",
      {.order_by = "title", .descending = true, .limit = kSearchLimit},
      [&] { return "R" + std::to_string(1000 + rng() % options_.canned_responses); });
}

Samples ReadFixture::draft_save(int iterations) {
  SQLite::Statement plain(*plain_, "INSERT OR REPLACE INTO draft (id, body) VALUES (?, ?)");
  Samples samples;
  for (int n = 0; n < iterations; ++n) {
    const int slot = drafts_saved_ % kDraftSlots;
    mutations::SaveDraft args;
    args.mutable_draft()->set_id("draft-" + std::to_string(slot));
    args.mutable_draft()->set_interaction_id("conv-" + std::to_string(slot));
    args.mutable_draft()->set_body("Dear customer, thank you for your patience. Revision " +
                                   std::to_string(drafts_saved_));
    ++drafts_saved_;
    samples.outpost_us.push_back(time_us([&] {
      auto id = replica_->mutate("save_draft", args, drafts_saved_);
      if (!id.ok()) throw std::runtime_error(id.status().to_string());
    }));
    std::string body = args.draft().SerializeAsString();
    samples.sqlite_us.push_back(time_us([&] {
      plain.reset();
      plain.bind(1, args.draft().id());
      plain.bind(2, body.data(), static_cast<int>(body.size()));
      plain.exec();
    }));
  }
  return samples;
}

}  // namespace outpost::bench
