// The core's listings (decision 056) against outpost-sim's model of Genesys Cloud through a
// hand-stepped driver: the response libraries and each library's responses paged by
// nextUri, the external contacts by the scan's cursors, each agent's queues joined and not;
// a bad entity counted, logged with the correlation id and skipped; a failed page and a
// partial page failing the listing, which is read again whole; a page over the bounds
// refused whole; an unchanged record not sent again; a gap listing the agent's queues only.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapters/genesys/genesys_core.h"
#include "apps/outpost-sim/genesys_model.h"
#include "tests/adapters/genesys/core_test_driver.h"

namespace outpost::genesys {
namespace {

namespace json = boost::json;
constexpr int64_t kStart = 1'795'000'000'000;

CoreOptions listing_options(bool contacts = true) {
  CoreOptions o;
  o.tenant = "acme";
  o.users = {"agent-1"};
  o.request_timeout_ms = 1'000;
  o.backoff_ms = {100, 300};
  o.retry_after_failure_ms = 200;
  o.org_reconcile_every_ms = 60'000;
  o.contact_scan_limit = 10;
  o.mirror_contacts = contacts;
  return o;
}

class GenesysCoreListingsTest : public ::testing::Test {
 protected:
  explicit GenesysCoreListingsTest(CoreOptions o = listing_options())
      : model_({"agent-1"}, kStart), core_([&] {
          o.log = [this](const std::string& line) { log_ += line + "\n"; };
          return o;
        }()) {}

  using Script = CoreTestDriver::Script;
  // Answers every request (`script` first, then the model, correlation "corr-<id>"), opens
  // the sockets asked for, delivers the model's socket messages, until the core is quiet
  // (the shared driver, core_test_driver.h).
  void run(const Script& script = {}) { driver_.run(script); }

  size_t requests(const std::string& line) const { return driver_.count(line); }
  size_t count(upstream::Event::KindCase kind) const {
    return static_cast<size_t>(std::count_if(events_.begin(), events_.end(),
                                             [&](const auto& e) { return e.kind_case() == kind; }));
  }
  // The model's answer to `r` with `edit` applied to its JSON.
  CoreAnswer edited(const CoreRequest& r, const std::function<void(json::object&)>& edit) {
    auto a = model_.handle(r.method, r.target, r.body, now_);
    json::value v = json::parse(a.body);
    edit(v.as_object());
    return CoreAnswer{a.status, json::serialize(v), "corr-" + std::to_string(r.id), -1, false};
  }
  static bool is_scan(const CoreRequest& r, const std::string& cursor = "") {
    if (r.target.rfind("/api/v2/externalcontacts/scan/contacts", 0) != 0) return false;
    return cursor.empty() ? r.target.find("cursor=") == std::string::npos
                          : r.target.find("cursor=" + cursor) != std::string::npos;
  }

  sim::GenesysModel model_;
  std::string log_;
  GenesysCore core_;
  int64_t now_ = kStart;
  CoreTestDriver driver_{model_, core_, now_};
  std::vector<upstream::Event>& events_ = driver_.events;
};

constexpr char kScan[] = "GET /api/v2/externalcontacts/scan/contacts";
constexpr char kResponses[] = "GET /api/v2/responsemanagement/responses";
constexpr char kLibraries[] = "GET /api/v2/responsemanagement/libraries";

TEST_F(GenesysCoreListingsTest, ListsResponsesContactsAndQueuesPageByPage) {
  model_.add_responses(120);  // lib-1: 123, two pages of 100
  run();
  EXPECT_TRUE(core_.mirrored());
  EXPECT_TRUE(core_.quiet());
  EXPECT_EQ(requests(kLibraries), 1u);
  EXPECT_EQ(requests(kResponses), 3u);  // lib-1: 2 pages (nextUri), lib-2: 1
  EXPECT_EQ(requests(kScan), 3u);       // 25 contacts, 10 a page, by cursor
  EXPECT_EQ(count(upstream::Event::kCannedResponse), 127u);
  EXPECT_EQ(count(upstream::Event::kContact), 25u);
  std::map<std::string, bool> queues;
  for (const auto& e : events_) {
    if (e.has_queue()) {
      EXPECT_EQ(e.user(), "agent-1");
      queues[e.queue().id()] = e.queue().joined();
    }
    if (e.has_canned_response() && e.canned_response().id() == "resp-2") {
      EXPECT_EQ(e.canned_response().library_id(), "lib-1");
      EXPECT_NE(e.canned_response().text().find("resp-2"), std::string::npos);
    }
  }
  const std::map<std::string, bool> want{{"queue-1", true}, {"queue-2", false}, {"queue-3", true}};
  EXPECT_EQ(queues, want);
  EXPECT_EQ(requests("GET /api/v2/users/agent-1/queues"), 2u);  // joined=true, joined=false
  EXPECT_EQ(core_.counters().org_listings, 1u);
  EXPECT_EQ(core_.counters().decode_errors, 0u);
}

TEST_F(GenesysCoreListingsTest, OnlyWhatChangedIsSentAgainAndAGapListsTheAgentsQueuesOnly) {
  run();
  ASSERT_TRUE(core_.mirrored());
  events_.clear();
  // A queue left on the web; a notification gap: the agent's reconcile lists its queues, the
  // org's listings are not read again.
  model_.web_change_queue("agent-1", 0, now_);  // queue-1
  model_.close_socket();
  core_.on_socket_closed(now_);
  run();
  ASSERT_EQ(count(upstream::Event::kQueue), 1u);
  for (const auto& e : events_) {
    if (!e.has_queue()) continue;
    EXPECT_EQ(e.queue().id(), "queue-1");
    EXPECT_FALSE(e.queue().joined());
  }
  EXPECT_EQ(requests(kLibraries), 1u);
  EXPECT_EQ(requests(kScan), 3u);
  // The org's next reconcile: an edited contact and an edited response, and nothing else.
  events_.clear();
  model_.web_edit_org_listing(1, now_);  // ec-00000 edited
  model_.web_edit_org_listing(2, now_);  // resp-1 edited
  now_ += 61'000;
  run();
  EXPECT_EQ(requests(kLibraries), 2u);
  EXPECT_EQ(requests(kScan), 6u);
  ASSERT_EQ(count(upstream::Event::kContact), 1u);
  ASSERT_EQ(count(upstream::Event::kCannedResponse), 1u);
  for (const auto& e : events_) {
    if (e.has_contact()) {
      EXPECT_EQ(e.contact().id(), "ec-00000");
    }
    if (e.has_canned_response()) {
      EXPECT_NE(e.canned_response().text().find("Edited"), std::string::npos);
    }
  }
  EXPECT_GT(core_.counters().duplicates_skipped, 25u);
}

// outpost-sim's seed 18 (merged sweeps): a device left queue-1 through the core's write, so
// the server's record changed by the mutator, not by an event; the web then joined it again,
// and the next reconcile read "joined" — what the core had last sent — and skipped it as a
// duplicate: the server kept "left" for good. A membership the core writes is sent again by
// the next listing whatever it was before.
TEST_F(GenesysCoreListingsTest, AMembershipWrittenByADeviceIsSentAgainByTheNextListing) {
  run();
  ASSERT_TRUE(core_.mirrored());
  const AgentRef agent{"acme", "agent-1", "phone#1"};
  auto first = core_.set_queue_joined(agent, "queue-1", false, now_);
  ASSERT_FALSE(first.ok());  // asked: the answer comes later
  run();
  auto left = core_.set_queue_joined(agent, "queue-1", false, now_);
  ASSERT_TRUE(left.ok()) << left.status().to_string();
  ASSERT_TRUE(left->accepted);
  events_.clear();
  model_.web_change_queue("agent-1", 0, now_);  // queue-1 joined again on the web
  model_.close_socket();
  core_.on_socket_closed(now_);
  run();
  bool joined = false;
  for (const auto& e : events_)
    joined |= e.has_queue() && e.queue().id() == "queue-1" && e.queue().joined();
  EXPECT_TRUE(joined) << "the platform's queue-1 membership (joined) was never sent";
}

TEST_F(GenesysCoreListingsTest, ABadEntityIsCountedLoggedAndSkipped) {
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (!is_scan(r)) return std::nullopt;
    return edited(r, [](json::object& page) {
      auto& entities = page["entities"].as_array();
      entities.push_back(json::object{{"id", "ec-alien"}, {"type", "Alien"}});
      entities.push_back(json::object{{"firstName", "No id"}});
    });
  });
  EXPECT_TRUE(core_.mirrored());
  EXPECT_EQ(core_.counters().decode_errors, 2u);
  EXPECT_NE(log_.find("external contact"), std::string::npos) << log_;
  EXPECT_NE(log_.find("correlation corr-"), std::string::npos) << log_;
  EXPECT_EQ(count(upstream::Event::kContact), 25u);
  for (const auto& e : events_) EXPECT_FALSE(e.has_contact() && e.contact().id() == "ec-alien");
}

TEST_F(GenesysCoreListingsTest, AFailedPageFailsTheListingWhichIsReadAgainWhole) {
  bool failed = false, mirrored_when_failed = true, unavailable = false;
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (is_scan(r, "10") && !failed) {
      failed = true;
      mirrored_when_failed = core_.mirrored();
      return CoreAnswer{500, R"({"status":500,"code":"internal"})", "corr-500", -1, false};
    }
    // A 503 is the call's own retry (backoff), not the listing's.
    if (is_scan(r, "20") && !unavailable) {
      unavailable = true;
      return CoreAnswer{503, "", "corr-503", -1, false};
    }
    return std::nullopt;
  });
  EXPECT_TRUE(failed);
  EXPECT_FALSE(mirrored_when_failed);  // the first mirror waits for the listings
  EXPECT_TRUE(core_.mirrored());
  EXPECT_EQ(requests(kScan), 2u + 4u);               // pages 1-2, then 1-3 with page 3 twice
  EXPECT_EQ(count(upstream::Event::kContact), 25u);  // page 1 read twice, sent once
  EXPECT_NE(log_.find("org listings"), std::string::npos) << log_;
  EXPECT_EQ(core_.counters().org_listings, 1u);
}

TEST_F(GenesysCoreListingsTest, APartialScanIsCountedAndReadAgain) {
  bool dropped = false;
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (!is_scan(r) || dropped) return std::nullopt;
    dropped = true;
    // A page shorter than the limit that still links onwards: an entity lost on the way.
    return edited(r, [](json::object& page) { page["entities"].as_array().pop_back(); });
  });
  EXPECT_TRUE(core_.mirrored());
  EXPECT_EQ(core_.counters().incomplete_listings, 1u);
  EXPECT_EQ(requests(kScan), 6u);
  EXPECT_EQ(count(upstream::Event::kContact), 25u);
}

TEST_F(GenesysCoreListingsTest, APageOverTheBoundsIsRefusedWholeAndReadAgain) {
  int bad = 0;
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (!is_scan(r) || bad >= 2) return std::nullopt;
    ++bad;
    if (bad == 1) {  // more entities than a page may hold
      json::array entities;
      for (size_t i = 0; i <= kMaxEntities; ++i)
        entities.push_back(json::object{{"id", "huge-" + std::to_string(i)}});
      return CoreAnswer{200, json::serialize(json::object{{"entities", entities}}), "corr-huge", -1,
                        false};
    }
    // A body over the decoder's bound.
    return CoreAnswer{
        200,
        R"({"entities":[{"id":"huge-body","note":")" + std::string(kMaxBodyBytes, 'x') + R"("}]})",
        "corr-big", -1, false};
  });
  EXPECT_EQ(bad, 2);
  EXPECT_TRUE(core_.mirrored());
  EXPECT_EQ(core_.counters().decode_errors, 2u);
  EXPECT_NE(log_.find("corr-huge"), std::string::npos) << log_;
  EXPECT_NE(log_.find("corr-big"), std::string::npos) << log_;
  EXPECT_EQ(count(upstream::Event::kContact), 25u);
  for (const auto& e : events_)
    EXPECT_FALSE(e.has_contact() && e.contact().id().rfind("huge", 0) == 0);
}

// Decision 063: what the platform no longer has goes by the listings.
size_t deletions(const std::vector<upstream::Event>& events, const std::string& id) {
  return static_cast<size_t>(std::count_if(events.begin(), events.end(), [&](const auto& e) {
    return e.contact_deleted() == id || e.canned_response_deleted() == id;
  }));
}

TEST_F(GenesysCoreListingsTest, ARecordThePlatformDeletedIsDeletedByTheNextCompleteListing) {
  run();
  ASSERT_TRUE(core_.mirrored());
  ASSERT_EQ(model_.handle("DELETE", "/api/v2/externalcontacts/contacts/ec-00003", "", now_).status,
            204);
  EXPECT_EQ(model_.web_edit_org_listing(4, now_), "response resp-1 deleted");
  now_ += 61'000;
  run();
  EXPECT_EQ(deletions(events_, "ec-00003"), 1u);
  EXPECT_EQ(deletions(events_, "resp-1"), 1u);
  EXPECT_EQ(core_.counters().org_deletions, 2u);
  for (const auto& e : events_) {
    if (e.contact_deleted().empty() && e.canned_response_deleted().empty()) continue;
    EXPECT_EQ(e.tenant(), "acme");
    EXPECT_TRUE(e.user().empty());  // org records
  }
  // Not again: the next listing deletes nothing more.
  now_ += 61'000;
  run();
  EXPECT_EQ(core_.counters().org_listings, 3u);
  EXPECT_EQ(core_.counters().org_deletions, 2u);
}

TEST_F(GenesysCoreListingsTest, AFailedOrPartialListingDeletesNothing) {
  run();
  ASSERT_TRUE(core_.mirrored());
  ASSERT_EQ(model_.handle("DELETE", "/api/v2/externalcontacts/contacts/ec-00003", "", now_).status,
            204);
  now_ += 61'000;
  // The scan's second page fails (after the call's own retries), then the first page comes
  // short (ec-00009 lost on the way): neither listing deletes anything.
  int failures = 0;
  bool partial = true;
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (is_scan(r, "10") && failures < 8) {
      ++failures;
      return CoreAnswer{500, R"({"status":500,"code":"internal"})", "corr-500", -1, false};
    }
    if (is_scan(r) && failures >= 8 && partial) {
      return edited(r, [](json::object& page) { page["entities"].as_array().pop_back(); });
    }
    return std::nullopt;
  });
  EXPECT_GE(failures, 8);
  EXPECT_GT(core_.counters().incomplete_listings, 0u);
  EXPECT_EQ(deletions(events_, "ec-00003"), 0u);
  EXPECT_EQ(deletions(events_, "ec-00009"), 0u);
  EXPECT_EQ(core_.counters().org_deletions, 0u);
  partial = false;
  run();
  EXPECT_EQ(deletions(events_, "ec-00003"), 1u);
  EXPECT_EQ(deletions(events_, "ec-00009"), 0u);
}

TEST_F(GenesysCoreListingsTest, ALibraryGoneTakesItsResponses) {
  run();
  ASSERT_TRUE(core_.mirrored());
  now_ += 61'000;
  run([&](const CoreRequest& r) -> std::optional<CoreAnswer> {
    if (r.target.rfind("/api/v2/responsemanagement/libraries", 0) != 0) return std::nullopt;
    return edited(r, [](json::object& page) {
      page["entities"].as_array().pop_back();  // lib-2 deleted
      page["total"] = 1;
    });
  });
  // lib-2 held the odd responses.
  for (const char* id : {"resp-1", "resp-3", "resp-5", "resp-7"})
    EXPECT_EQ(deletions(events_, id), 1u) << id;
  EXPECT_EQ(core_.counters().org_deletions, 4u);
}

TEST_F(GenesysCoreListingsTest, RecordsTheStoreHeldBeforeTheStartAreDeletedWhenNotListed) {
  // A fresh core (a restarted server): the store's records, told before its first listing.
  core_.org_record_known("contact", "ec-00001");
  core_.org_record_known("contact", "contact-from-before");
  core_.org_record_known("canned_response", "resp-old");
  core_.org_record_known("queue", "not-an-org-listing");
  run();
  ASSERT_TRUE(core_.mirrored());
  EXPECT_EQ(deletions(events_, "contact-from-before"), 1u);
  EXPECT_EQ(deletions(events_, "resp-old"), 1u);
  EXPECT_EQ(deletions(events_, "ec-00001"), 0u);
  EXPECT_EQ(core_.counters().org_deletions, 2u);
  size_t sent = 0;  // ec-00001 is sent all the same: the store's copy may be older
  for (const auto& e : events_) sent += e.has_contact() && e.contact().id() == "ec-00001";
  EXPECT_EQ(sent, 1u);
}

class GenesysCoreBigOrgTest : public GenesysCoreListingsTest {
 protected:
  GenesysCoreBigOrgTest()
      : GenesysCoreListingsTest([] {
          CoreOptions o = listing_options();
          o.contact_scan_limit = 200;
          return o;
        }()) {}
};

TEST_F(GenesysCoreBigOrgTest, FiftyThousandContactsAndThreeDeleted) {
  model_.add_contacts(50'000 - 25);
  run();
  ASSERT_TRUE(core_.mirrored());
  EXPECT_EQ(count(upstream::Event::kContact), 50'000u);
  for (const char* id : {"ec-00007", "ec-25000", "ec-49999"}) {
    ASSERT_EQ(
        model_.handle("DELETE", std::string("/api/v2/externalcontacts/contacts/") + id, "", now_)
            .status,
        204);
  }
  events_.clear();
  now_ += 61'000;
  run();
  EXPECT_EQ(core_.counters().org_deletions, 3u);
  for (const char* id : {"ec-00007", "ec-25000", "ec-49999"}) EXPECT_EQ(deletions(events_, id), 1u);
}

class GenesysCoreNoContactsTest : public GenesysCoreListingsTest {
 protected:
  GenesysCoreNoContactsTest() : GenesysCoreListingsTest(listing_options(false)) {}
};

TEST_F(GenesysCoreNoContactsTest, MirrorContactsOffListsNoContacts) {
  run();
  EXPECT_TRUE(core_.mirrored());
  EXPECT_EQ(requests(kScan), 0u);
  EXPECT_EQ(count(upstream::Event::kContact), 0u);
  EXPECT_EQ(count(upstream::Event::kCannedResponse), 7u);
}

}  // namespace
}  // namespace outpost::genesys
