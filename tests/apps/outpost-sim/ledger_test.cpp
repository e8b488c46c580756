// Invariant (3)'s bookkeeping: which typed words must survive.
#include "apps/outpost-sim/ledger.h"

#include <gtest/gtest.h>

namespace outpost::sim {
namespace {

const std::string kDraft = "draft|user/acme/u0|draft-1";

// A device save that typed `typed` into a text that then held `words` (typed when empty).
TextEdit save(uint64_t mutation, std::vector<std::string> typed, bool is_delete = false,
              std::vector<std::string> words = {}) {
  if (words.empty()) words = typed;
  return TextEdit{.record = kDraft,
                  .is_delete = is_delete,
                  .client_id = "c",
                  .mutation_id = mutation,
                  .typed = std::move(typed),
                  .words = std::move(words)};
}

void issue(Ledger& ledger, uint64_t id) {
  ledger.add_mutation(MutationRecord{.client_id = "c", .id = id, .name = "save_draft"});
}

TEST(Ledger, AppliedWordsAreRequiredUnlessDeletedOnPurpose) {
  Ledger ledger;
  issue(ledger, 1);
  issue(ledger, 2);
  ledger.add_device_edit(save(1, {"d0n1", "d0n2"}));
  ledger.add_device_edit(save(2, {}, false, {"d0n1"}));  // the user erased d0n2
  ledger.deliberately_deleted("d0n2");
  ledger.server_applied("c", 1);
  ledger.server_applied("c", 2);
  auto required = ledger.required_words();
  EXPECT_EQ(required[kDraft], (std::set<std::string>{"d0n1"}));
}

TEST(Ledger, RejectedOrUnappliedSavesAndWordsTypedBeforeADeleteAreNotRequired) {
  Ledger ledger;
  for (uint64_t id = 1; id <= 5; ++id) issue(ledger, id);
  ledger.add_device_edit(save(1, {"old"}));
  ledger.add_device_edit(save(2, {}, /*is_delete=*/true));
  ledger.add_device_edit(save(3, {"refused"}));
  ledger.add_device_edit(save(4, {"never-applied"}));
  // Typed after the delete; "old" is only carried along from a stale copy.
  ledger.add_device_edit(save(5, {"after-delete"}, false, {"old", "after-delete"}));
  ledger.server_applied("c", 1);
  ledger.server_applied("c", 2);
  ledger.server_rejected("c", 3, "rejected", "draft was already sent");
  ledger.server_applied("c", 5);
  ledger.add_platform_edit(
      TextEdit{.record = kDraft, .typed = {"web1"}, .words = {"after-delete", "web1"}});
  auto required = ledger.required_words();
  EXPECT_EQ(required[kDraft], (std::set<std::string>{"after-delete", "web1"}));
}

TEST(Ledger, CountsFreshApplicationsSoADoubleApplyShows) {
  Ledger ledger;
  issue(ledger, 1);
  ledger.server_applied("c", 1);
  ledger.server_applied("c", 1);
  EXPECT_EQ(ledger.find("c", 1)->applied, 2);
  EXPECT_EQ(ledger.find("c", 9), nullptr);
}

}  // namespace
}  // namespace outpost::sim
