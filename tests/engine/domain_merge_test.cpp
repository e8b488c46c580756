// merge_draft_edit's per-field merge (engine/domain_merge.h): every field the edit left as
// its base keeps the current value, every field it changed takes the edit's — for each kind
// of field a draft has (strings, repeated strings, an integer, an enum, repeated messages,
// a change deep inside one), and for presence alone (a value set to its default).
#include "engine/domain_merge.h"

#include <gtest/gtest.h>

#include "outpost/domain.pb.h"

namespace outpost {
namespace {

namespace d = outpost::domain;

d::Draft base_draft() {
  d::Draft draft;
  draft.set_id("draft-1");
  draft.set_kind(d::DRAFT_EMAIL_REPLY);
  draft.add_to("ann@example.com");
  draft.add_cc("bob@example.com");
  draft.set_queue_id("q-support");
  draft.set_callback_number("+32 470 000 000");
  draft.set_callback_at_ms(1000);
  d::Attachment* attachment = draft.add_attachments();
  attachment->set_id("a-1");
  attachment->set_name("invoice.pdf");
  attachment->set_size_bytes(2048);
  draft.set_subject("Re: invoice");
  draft.set_body("Dear Ann");
  return draft;
}

TEST(DraftFieldMerge, EachFieldTheEditChangedIsTakenAndEveryOtherKeepsTheCurrentValue) {
  const d::Draft base = base_draft();
  // Another device changed some fields since the base.
  d::Draft current = base;
  current.add_to("carl@example.com");
  current.set_queue_id("q-billing");
  current.set_callback_at_ms(2000);
  current.mutable_attachments(0)->set_name("invoice-v2.pdf");
  // The edit changes other fields, each of another kind.
  d::Draft edited = base;
  edited.clear_cc();
  edited.add_bcc("dora@example.com");
  edited.set_kind(d::DRAFT_OUTBOUND_EMAIL);
  edited.set_callback_number("");
  edited.mutable_attachments(0)->set_size_bytes(4096);  // a change deep inside a message
  auto merged = merge_draft_edit(current, base, edited, false, 5000);
  ASSERT_TRUE(merged.ok()) << merged.status().to_string();
  const d::Draft& out = merged.value();
  // Left as the base by the edit: the current values.
  ASSERT_EQ(out.to_size(), 2);
  EXPECT_EQ(out.to(1), "carl@example.com");
  EXPECT_EQ(out.queue_id(), "q-billing");
  EXPECT_EQ(out.callback_at_ms(), 2000);
  // Changed by the edit: the edit's values (a whole field: the attachment is the edit's).
  EXPECT_EQ(out.cc_size(), 0);
  ASSERT_EQ(out.bcc_size(), 1);
  EXPECT_EQ(out.bcc(0), "dora@example.com");
  EXPECT_EQ(out.kind(), d::DRAFT_OUTBOUND_EMAIL);
  EXPECT_EQ(out.callback_number(), "");
  ASSERT_EQ(out.attachments_size(), 1);
  EXPECT_EQ(out.attachments(0).size_bytes(), 4096);
  EXPECT_EQ(out.attachments(0).name(), "invoice.pdf");
}

TEST(DraftFieldMerge, AnEditEqualToItsBaseKeepsEveryCurrentValue) {
  const d::Draft base = base_draft();
  d::Draft current = base;
  current.clear_to();
  current.set_kind(d::DRAFT_SMS);
  current.clear_attachments();
  current.set_callback_at_ms(0);
  auto merged = merge_draft_edit(current, base, base, false, 5000);
  ASSERT_TRUE(merged.ok());
  EXPECT_EQ(merged.value().to_size(), 0);
  EXPECT_EQ(merged.value().kind(), d::DRAFT_SMS);
  EXPECT_EQ(merged.value().attachments_size(), 0);
  EXPECT_EQ(merged.value().callback_at_ms(), 0);
}

}  // namespace
}  // namespace outpost
