#include "engine/domain_merge.h"

#include <cstring>
#include <set>
#include <string>
#include <string_view>

#include "engine/text_merge.h"

namespace outpost {
namespace {

namespace d = outpost::domain;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// A copy of `message` holding only `field`.
std::string only_field(const Message& message, const FieldDescriptor* field) {
  std::unique_ptr<Message> copy(message.New());
  copy->CopyFrom(message);
  const auto* descriptor = message.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    if (descriptor->field(i) != field)
      copy->GetReflection()->ClearField(copy.get(), descriptor->field(i));
  }
  return copy->SerializeAsString();
}

void take_field(Message& out, const Message& from, const FieldDescriptor* field) {
  out.GetReflection()->ClearField(&out, field);
  std::unique_ptr<Message> copy(from.New());
  copy->ParseFromString(only_field(from, field));
  out.MergeFrom(*copy);
}

// Element `index` of repeated `field` (or the singular value, index -1) is the same in
// `a` and `b`: the same bytes on the wire (floating point compared bit for bit).
bool same_value(const Message& a, const Message& b, const FieldDescriptor* field, int index) {
  const auto* ra = a.GetReflection();
  const auto* rb = b.GetReflection();
  const bool repeated = index >= 0;
  switch (field->cpp_type()) {
#define OUTPOST_SAME(TYPE, Getter)                                 \
  case FieldDescriptor::CPPTYPE_##TYPE:                            \
    return repeated ? ra->GetRepeated##Getter(a, field, index) ==  \
                          rb->GetRepeated##Getter(b, field, index) \
                    : ra->Get##Getter(a, field) == rb->Get##Getter(b, field);
    OUTPOST_SAME(INT32, Int32)
    OUTPOST_SAME(INT64, Int64)
    OUTPOST_SAME(UINT32, UInt32)
    OUTPOST_SAME(UINT64, UInt64)
    OUTPOST_SAME(BOOL, Bool)
    OUTPOST_SAME(ENUM, EnumValue)
#undef OUTPOST_SAME
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      const double x = repeated ? ra->GetRepeatedDouble(a, field, index) : ra->GetDouble(a, field);
      const double y = repeated ? rb->GetRepeatedDouble(b, field, index) : rb->GetDouble(b, field);
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      const float x = repeated ? ra->GetRepeatedFloat(a, field, index) : ra->GetFloat(a, field);
      const float y = repeated ? rb->GetRepeatedFloat(b, field, index) : rb->GetFloat(b, field);
      return std::memcmp(&x, &y, sizeof x) == 0;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string x_scratch, y_scratch;
      return (repeated ? ra->GetRepeatedStringReference(a, field, index, &x_scratch)
                       : ra->GetStringReference(a, field, &x_scratch)) ==
             (repeated ? rb->GetRepeatedStringReference(b, field, index, &y_scratch)
                       : rb->GetStringReference(b, field, &y_scratch));
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return (repeated ? ra->GetRepeatedMessage(a, field, index) : ra->GetMessage(a, field))
                 .SerializeAsString() ==
             (repeated ? rb->GetRepeatedMessage(b, field, index) : rb->GetMessage(b, field))
                 .SerializeAsString();
  }
  return false;
}

// Whether `a` and `b` hold the same `field`: what comparing the two serialized with only
// that field says, without copying and serializing both whole messages for each field (that
// was 58% of a draft save's instructions, decision 053). Maps keep the serialized
// comparison (their order on the wire is the map's own).
bool same_field(const Message& a, const Message& b, const FieldDescriptor* field) {
  if (field->is_map()) return only_field(a, field) == only_field(b, field);
  const auto* ra = a.GetReflection();
  const auto* rb = b.GetReflection();
  if (field->is_repeated()) {
    const int size = ra->FieldSize(a, field);
    if (size != rb->FieldSize(b, field)) return false;
    for (int i = 0; i < size; ++i) {
      if (!same_value(a, b, field, i)) return false;
    }
    return true;
  }
  const bool present = ra->HasField(a, field);
  if (present != rb->HasField(b, field)) return false;
  return !present || same_value(a, b, field, -1);
}

// Per field, outside `skip`: a field the edit left as in `base` keeps `out`'s value (the
// current one), a field it changed takes the edit's.
void merge_fields(Message& out, const Message& base, const Message& edited,
                  const std::set<std::string_view>& skip) {
  const auto* descriptor = out.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const FieldDescriptor* field = descriptor->field(i);
    if (skip.count(field->name())) continue;
    if (!same_field(base, edited, field)) take_field(out, edited, field);
  }
}

// Appends a new conflict region to what is kept; `seen` is dropped first when resolving.
Result<std::string> next_conflict(const std::string& kept, const std::string& seen, bool resolve,
                                  const std::string& added) {
  std::string out = kept;
  if (resolve) {
    out = kept.compare(0, seen.size(), seen) == 0 ? kept.substr(seen.size()) : kept;
    if (out.compare(0, kConflictSeparator.size(), kConflictSeparator) == 0) {
      out = out.substr(kConflictSeparator.size());
    }
  }
  if (!added.empty()) {
    if (!out.empty()) out.append(kConflictSeparator);
    out.append(added);
  }
  if (out.size() > kMaxTextBytes) {
    return error(ErrorCode::kTooLarge, "the conflict copy would pass 1 MiB: resolve it first");
  }
  return out;
}

}  // namespace

bool same_draft_text(const d::Draft& base, const d::Draft& current) {
  return base.subject() == current.subject() && base.body() == current.body() &&
         base.conflict_body() == current.conflict_body() &&
         base.conflict_subject() == current.conflict_subject();
}

Result<d::Draft> merge_draft_edit(const std::optional<d::Draft>& current,
                                  const std::optional<d::Draft>& base, const d::Draft& edited,
                                  bool resolve_conflict, int64_t now_ms) {
  if (edited.body().size() > kMaxTextBytes || edited.subject().size() > kMaxTextBytes) {
    return error(ErrorCode::kTooLarge, "draft text over 1 MiB");
  }
  if (current && current->status() == d::DRAFT_SENT) {
    return error(ErrorCode::kRejected, "draft was already sent");
  }
  static const std::set<std::string_view> kManaged = {
      "id",        "subject",    "body",          "revision",         "base_revision",
      "status",    "conflicted", "conflict_body", "conflict_subject", "refusal",
      "updated_ms"};
  const d::Draft from = base.value_or(d::Draft());
  d::Draft out = current.value_or(d::Draft());
  out.set_id(edited.id());
  merge_fields(out, current ? from : d::Draft(), edited, kManaged);

  TextMerge subject =
      merge_text(from.subject(), current ? current->subject() : from.subject(), edited.subject());
  TextMerge body = merge_text(from.body(), current ? current->body() : from.body(), edited.body());
  out.set_subject(subject.text);
  out.set_body(body.text);
  OUTPOST_ASSIGN_OR_RETURN(
      std::string conflict_body,
      next_conflict(out.conflict_body(), from.conflict_body(), resolve_conflict, body.conflict));
  OUTPOST_ASSIGN_OR_RETURN(std::string conflict_subject,
                           next_conflict(out.conflict_subject(), from.conflict_subject(),
                                         resolve_conflict, subject.conflict));
  out.set_conflict_body(conflict_body);
  out.set_conflict_subject(conflict_subject);
  out.set_conflicted(!conflict_body.empty() || !conflict_subject.empty());
  out.set_base_revision(from.revision());
  out.set_revision(out.revision() + 1);
  out.set_status(d::DRAFT_EDITING);
  out.set_refusal("");
  out.set_updated_ms(now_ms);
  return out;
}

Result<d::Note> merge_note_edit(const std::optional<d::Note>& current,
                                const std::optional<d::Note>& base,
                                const std::string& interaction_id, const std::string& text,
                                bool resolve_conflict, int64_t now_ms) {
  if (text.size() > kMaxTextBytes) return error(ErrorCode::kTooLarge, "note over 1 MiB");
  const d::Note from = base.value_or(d::Note());
  d::Note out = current.value_or(d::Note());
  out.set_interaction_id(interaction_id);
  TextMerge merged = merge_text(from.text(), current ? current->text() : from.text(), text);
  out.set_text(merged.text);
  OUTPOST_ASSIGN_OR_RETURN(
      std::string conflict,
      next_conflict(out.conflict_text(), from.conflict_text(), resolve_conflict, merged.conflict));
  out.set_conflict_text(conflict);
  out.set_conflicted(!conflict.empty());
  out.set_base_revision(from.revision());
  out.set_revision(out.revision() + 1);
  out.set_updated_ms(now_ms);
  return out;
}

}  // namespace outpost
