// The Genesys Cloud decoders (adapters/genesys/genesys_json.h) on arbitrary bytes: byte 0
// picks the decoder, the rest is the platform's body. The contract: an answer or
// kInvalidArgument / kTooLarge / kNotFound (the agent takes no part), never a crash; what
// decodes names its record and serializes to a message that parses back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "adapters/genesys/genesys_json.h"
#include "adapters/genesys/genesys_new_conversations.h"
#include "fuzz/fuzz_support.h"

namespace {

using outpost::ErrorCode;
using outpost::fuzz::check;
using outpost::fuzz::check_code;
namespace g = outpost::genesys;

const std::initializer_list<ErrorCode> kAllowed = {ErrorCode::kInvalidArgument,
                                                   ErrorCode::kTooLarge, ErrorCode::kNotFound,
                                                   ErrorCode::kUnauthenticated};

template <typename Message>
void check_record(const outpost::Result<Message>& got, const std::string& id, const char* where) {
  check_code(got.status(), kAllowed, where);
  if (!got.ok()) return;
  check(!id.empty(), where);
  Message back;
  check(back.ParseFromString(got->SerializeAsString()), where);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  g::PresenceMap map;
  map.system_of["lunch"] = "Meal";
  switch (data[0] % 16) {
    case 0: {
      auto page = g::decode_page(body);
      check_code(page.status(), kAllowed, "page");
      if (page.ok()) check(page->entities.size() <= g::kMaxEntities, "page bound");
      break;
    }
    case 1: {
      auto defs = g::decode_presence_definitions(body);
      check_code(defs.status(), kAllowed, "presence definitions");
      if (defs.ok()) {
        for (const auto& r : defs->aux_reasons) check(!r.id().empty(), "aux reason id");
      }
      break;
    }
    case 2: {
      auto p = g::decode_presence(body, map);
      check_code(p.status(), kAllowed, "presence");
      if (p.ok()) {
        check(p->presence() != outpost::domain::PRESENCE_UNSPECIFIED, "presence set");
      }
      break;
    }
    case 3:
      check_code(g::decode_routing_status(body).status(), kAllowed, "routing status");
      break;
    case 4: {
      auto q = g::decode_user_queue(body);
      check_record(q, q.ok() ? q->id() : "", "queue");
      break;
    }
    case 5: {
      auto c = g::decode_wrapup_code(body);
      check_record(c, c.ok() ? c->id() : "", "wrap-up code");
      break;
    }
    case 6: {
      auto v = g::decode_voicemail(body);
      check_record(v, v.ok() ? v->id() : "", "voicemail");
      (void)g::voicemail_action(body);
      break;
    }
    case 7: {
      auto c = g::decode_contact(body);
      check_record(c, c.ok() ? c->id() : "", "contact");
      break;
    }
    case 8: {
      auto r = g::decode_response(body);
      check_record(r, r.ok() ? r->id() : "", "response");
      break;
    }
    case 9: {
      auto c = g::decode_conversation(body, "agent-1");
      check_code(c.status(), kAllowed, "conversation");
      if (c.ok()) {
        check(!c->interaction.id().empty() && !c->media_path.empty(), "conversation ids");
      }
      break;
    }
    case 10: {
      auto it = g::decode_analytics_conversation(body, "agent-1");
      check_record(it, it.ok() ? it->id() : "", "analytics conversation");
      break;
    }
    case 11: {
      auto d = g::decode_email_draft(body);
      check_code(d.status(), kAllowed, "email draft");
      break;
    }
    case 12: {
      auto n = g::decode_notification(body);
      check_code(n.status(), kAllowed, "notification");
      break;
    }
    case 13: {
      auto ids = g::decode_message_ids(body);
      check_code(ids.status(), kAllowed, "message ids");
      if (ids.ok()) {
        check(ids->size() <= g::kMaxEntities, "message ids bound");
        for (const auto& id : *ids) check(!id.empty(), "message id");
      }
      break;
    }
    case 14: {
      auto m = g::decode_message_data(body);
      check_code(m.status(), kAllowed, "message data");
      if (m.ok()) check(!m->id.empty(), "message data id");
      break;
    }
    default: {
      (void)g::decode_error(body);
      check_code(g::decode_token(body).status(), kAllowed, "token");
      check_code(g::decode_user_id(body).status(), kAllowed, "user");
      check_code(g::decode_media_uri(body).status(), kAllowed, "media link");
      (void)g::parse_iso_ms(body);
      // decision 044's answers: a created conversation, the analytics read-back.
      auto created = g::decode_created_conversation(body);
      check_code(created.status(), kAllowed, "created conversation");
      if (created.ok()) check(!created->empty(), "created conversation id");
      auto found = g::decode_found_conversations(body);
      check_code(found.status(), kAllowed, "found conversations");
      if (found.ok()) check(found->size() <= g::kMaxEntities, "found conversations bound");
      break;
    }
  }
  return 0;
}
