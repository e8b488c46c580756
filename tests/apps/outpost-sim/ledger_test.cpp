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
  ledger.server_applied("c", 1, 0);
  ledger.server_applied("c", 2, 0);
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
  ledger.server_applied("c", 1, 0);
  ledger.server_applied("c", 2, 0);
  ledger.server_rejected("c", 3, 0, "rejected", "draft was already sent");
  ledger.server_applied("c", 5, 0);
  ledger.add_platform_edit(
      TextEdit{.record = kDraft, .typed = {"web1"}, .words = {"after-delete", "web1"}});
  auto required = ledger.required_words();
  EXPECT_EQ(required[kDraft], (std::set<std::string>{"after-delete", "web1"}));
}

TEST(Ledger, CountsFreshApplicationsSoADoubleApplyShows) {
  Ledger ledger;
  issue(ledger, 1);
  ledger.server_applied("c", 1, 0);
  ledger.server_applied("c", 1, 0);
  EXPECT_EQ(ledger.find("c", 1)->applied, 2);
  EXPECT_EQ(ledger.find("c", 9), nullptr);
}

void issue_printed(Ledger& ledger, uint64_t id, uint64_t print) {
  ledger.add_mutation(
      MutationRecord{.client_id = "c", .id = id, .name = "save_draft", .print = print});
}

TEST(Ledger, AnotherMutationAppliedAtAnIdIsAMismatchNotAnApplication) {
  Ledger ledger;
  issue_printed(ledger, 1, 111);
  ledger.server_applied("c", 1, 999);
  EXPECT_EQ(ledger.find("c", 1)->applied, 0);
  EXPECT_FALSE(ledger.find("c", 1)->print_mismatch.empty());
}

TEST(Ledger, RenumberedMutationsKeepTheirRecordsAndTheirWords) {
  Ledger ledger;
  issue_printed(ledger, 5, 55);
  issue_printed(ledger, 6, 66);
  ledger.add_device_edit(save(5, {"five"}));
  ledger.add_device_edit(save(6, {"six"}));
  // As Replica::renumber_pending after a refusal naming (5, 6): 5 -> 7, 6 -> 8.
  ledger.renumbered("c", {{5, 7}, {6, 8}});
  EXPECT_EQ(ledger.find("c", 5), nullptr);
  EXPECT_EQ(ledger.find("c", 6), nullptr);
  ledger.server_applied("c", 7, 55);
  ledger.server_applied("c", 8, 66);
  EXPECT_EQ(ledger.find("c", 7)->applied, 1);
  EXPECT_EQ(ledger.find("c", 8)->applied, 1);
  EXPECT_TRUE(ledger.find("c", 8)->print_mismatch.empty());
  EXPECT_EQ(ledger.required_words()[kDraft], (std::set<std::string>{"five", "six"}));
  EXPECT_EQ(ledger.next_id("c"), 9u);
}

TEST(Ledger, ARestoreArchivesWhatCameAfterTheCopyAndALatePushStillCounts) {
  Ledger ledger;
  issue_printed(ledger, 1, 11);
  issue_printed(ledger, 2, 22);  // after the copy, applied before the restore
  issue_printed(ledger, 3, 33);  // after the copy, in flight when the phone was restored
  issue_printed(ledger, 4, 44);  // after the copy, never sent
  ledger.add_device_edit(save(3, {"late"}));
  ledger.add_device_edit(save(4, {"gone"}));
  ledger.server_applied("c", 1, 11);
  ledger.server_applied("c", 2, 22);
  ledger.restored("c", 2, "r1");
  EXPECT_TRUE(ledger.was_restored("c"));
  EXPECT_EQ(ledger.next_id("c"), 2u) << "the restored file numbers from 2 again";
  EXPECT_EQ(ledger.find("c~r1", 2)->applied, 1);
  EXPECT_FALSE(ledger.find("c~r1", 2)->lost_to_restore);
  EXPECT_TRUE(ledger.find("c~r1", 4)->lost_to_restore);
  // The restored phone's own mutation 2, and the push that was in flight for the old 3.
  issue_printed(ledger, 2, 222);
  ledger.server_applied("c", 3, 33);
  EXPECT_EQ(ledger.find("c~r1", 3)->applied, 1);
  EXPECT_EQ(ledger.find("c", 3), nullptr);
  EXPECT_EQ(ledger.find("c", 2)->applied, 0);
  // "late" reached the server and must survive; "gone" never did.
  EXPECT_EQ(ledger.required_words()[kDraft], (std::set<std::string>{"late"}));
}

}  // namespace
}  // namespace outpost::sim
