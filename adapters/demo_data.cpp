#include "adapters/demo_data.h"

#include "adapters/sim_media.h"

#include <ctime>
#include <functional>
#include <random>
#include <vector>

#include "engine/scope.h"
#include "outpost/domain.pb.h"

namespace outpost {
namespace {

namespace d = outpost::domain;

const char* kFirst[] = {"Ann",  "Bert",   "Chloe", "Dirk",  "Els",    "Frank", "Greet",
                        "Hans", "Ilse",   "Jan",   "Karel", "Lies",   "Marc",  "Nele",
                        "Olaf", "Pieter", "Sofie", "Tom",   "Veerle", "Wout"};
const char* kLast[] = {"Peeters", "Janssens", "Maes",     "Jacobs",  "Mertens",
                       "Willems", "Claes",    "Goossens", "Wouters", "De Smet",
                       "Dubois",  "Lambert",  "Dupont",   "Martens", "Hermans"};
const char* kCompanies[] = {"Brewery Van Dam", "Fietsen Claes", "Bakkerij Goossens",
                            "Garage Maes",     "Hotel Lambert", "Notaris Willems"};
const char* kTopics[] = {"Delivery delay",      "Refund request",   "Opening hours",
                         "Password reset",      "Invoice question", "Address change",
                         "Complaint follow-up", "Warranty claim"};

std::string local_day(int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d", &tm);
  return buffer;
}

// Buffers records and writes them in transactions of a bounded size.
class Writer {
 public:
  Writer(ServerCore& core, uint32_t per_transaction) : core_(core), limit_(per_transaction) {}

  Status put(const std::string& scope, const google::protobuf::Message& record) {
    const Collection* collection = core_.schema().find(record.GetDescriptor());
    if (collection == nullptr) return error(ErrorCode::kNotFound, "not a collection");
    pending_.push_back({scope, collection->name, collection->key_of(record), collection->priority,
                        record.SerializeAsString()});
    return pending_.size() >= limit_ ? flush() : Status::Ok();
  }

  Status flush() {
    if (pending_.empty()) return Status::Ok();
    Status status = core_.write([&](ServerWriteTx& tx) -> Status {
      for (const auto& item : pending_) {
        auto version = tx.put(item.scope, item.collection, item.key, item.priority, item.body);
        if (!version.ok()) return version.status();
      }
      return Status::Ok();
    });
    pending_.clear();
    return status;
  }

 private:
  struct Item {
    std::string scope, collection, key;
    int priority;
    std::string body;
  };
  ServerCore& core_;
  uint32_t limit_;
  std::vector<Item> pending_;
};

}  // namespace

std::string demo_contact(uint64_t i, uint64_t seed) {
  std::mt19937_64 random(seed * 1'000'003 + i);
  d::Contact contact;
  contact.set_id("contact-" + std::to_string(i));
  contact.set_first_name(kFirst[random() % 20]);
  contact.set_last_name(std::string(kLast[random() % 15]) +
                        (i >= 300 ? "-" + std::to_string(i) : ""));
  contact.set_title(i % 3 == 0 ? "Manager" : "");
  contact.set_company(kCompanies[random() % 6]);
  contact.set_work_phone("+32 2 555 " + std::to_string(10000 + random() % 90000));
  contact.set_cell_phone("+32 475 " + std::to_string(100000 + random() % 900000));
  std::string handle = contact.first_name() + "." + std::to_string(i);
  for (char& c : handle) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  contact.set_work_email(handle + "@example.com");
  contact.set_address("Kerkstraat " + std::to_string(1 + random() % 200) + ", 9000 Gent");
  contact.set_modified_ms(1'790'000'000'000 + static_cast<int64_t>(random() % 1'000'000'000));
  return contact.SerializeAsString();
}

Status seed_demo_data(ServerCore& core, const DemoDataOptions& options) {
  OUTPOST_ASSIGN_OR_RETURN(const ScopeName org_scope, ScopeName::org(options.tenant));
  OUTPOST_ASSIGN_OR_RETURN(const ScopeName user_scope,
                           ScopeName::user(options.tenant, options.user));
  const std::string& org = org_scope.str();
  const std::string& user = user_scope.str();
  std::mt19937_64 random(options.seed);
  Writer writer(core, options.records_per_transaction);

  const std::pair<const char*, const char*> aux[] = {{"aux-lunch", "Lunch"},
                                                     {"aux-break", "Break"},
                                                     {"aux-meeting", "Meeting"},
                                                     {"aux-training", "Training"},
                                                     {"aux-admin", "Administration"}};
  const char* system_presence[] = {"Meal", "Break", "Meeting", "Training", "Busy"};
  for (int i = 0; i < 5; ++i) {
    d::AuxReason reason;
    reason.set_id(aux[i].first);
    reason.set_name(aux[i].second);
    reason.set_system_presence(system_presence[i]);
    reason.set_sort_order(i);
    OUTPOST_RETURN_IF_ERROR(writer.put(org, reason));
  }
  const char* codes[] = {"Solved", "Callback needed", "Escalated", "Wrong number", "Sale"};
  for (int i = 0; i < 5; ++i) {
    d::WrapupCode code;
    code.set_id("wrapup-" + std::to_string(i + 1));
    code.set_name(codes[i]);
    OUTPOST_RETURN_IF_ERROR(writer.put(org, code));
  }
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"journal_window_hours", "24"},
                                                        {"inactivity_silent_minutes", "30"},
                                                        {"inactivity_keepalive_minutes", "60"}}) {
    d::OrgSetting setting;
    setting.set_name(name);
    setting.set_value(value);
    OUTPOST_RETURN_IF_ERROR(writer.put(org, setting));
  }
  for (uint32_t i = 0; i < options.contacts; ++i) {
    d::Contact contact;
    contact.ParseFromString(demo_contact(i, options.seed));
    OUTPOST_RETURN_IF_ERROR(writer.put(org, contact));
  }
  for (uint32_t i = 0; i < options.canned_responses; ++i) {
    d::CannedResponse response;
    response.set_id("response-" + std::to_string(i));
    response.set_title(std::string(kTopics[i % 8]) + (i >= 8 ? " #" + std::to_string(i) : ""));
    response.set_text("Dear {{customer_name}}, thank you for contacting us about " +
                      std::string(kTopics[i % 8]) +
                      ". We have looked into your question and will get back to you within "
                      "two working days. Kind regards, {{agent_name}}");
    response.set_library_id("library-1");
    response.set_library_name("Customer service");
    response.set_interaction_type(d::MEDIA_EMAIL);
    response.add_variables("customer_name");
    response.add_variables("agent_name");
    OUTPOST_RETURN_IF_ERROR(writer.put(org, response));
  }
  for (int i = 0; i < 12; ++i) {
    d::Colleague colleague;
    colleague.set_user_id("user-" + std::to_string(i));
    colleague.set_first_name(kFirst[i % 20]);
    colleague.set_last_name(kLast[(i * 7) % 15]);
    colleague.set_username(colleague.first_name() + "." + std::to_string(i));
    colleague.set_presence(static_cast<d::Presence>(1 + i % 3));
    OUTPOST_RETURN_IF_ERROR(writer.put(org, colleague));
  }

  d::AgentState state;
  state.set_user_id(options.user);
  state.set_presence(d::PRESENCE_NOT_READY);
  state.set_aux_reason_id("aux-meeting");
  state.set_aux_reason_name("Meeting");
  state.set_chosen_presence(d::PRESENCE_NOT_READY);
  state.set_chosen_aux_reason_id("aux-meeting");
  state.set_since_ms(options.now_ms - 25 * 60 * 1000);
  state.set_routing_status("OFF_QUEUE");
  OUTPOST_RETURN_IF_ERROR(writer.put(user, state));
  const char* queues[] = {"Support NL", "Support FR", "Sales", "Billing"};
  for (int i = 0; i < 4; ++i) {
    d::Queue queue;
    queue.set_id("queue-" + std::to_string(i + 1));
    queue.set_name(queues[i]);
    queue.set_joined(i < 2);
    queue.add_media(d::MEDIA_VOICE);
    queue.add_media(d::MEDIA_EMAIL);
    queue.set_member_count(8 + i);
    OUTPOST_RETURN_IF_ERROR(writer.put(user, queue));
  }
  const std::string today = local_day(options.now_ms);
  for (uint32_t i = 0; i < options.interactions; ++i) {
    d::Interaction interaction;
    interaction.set_id("conversation-" + std::to_string(i + 1));
    interaction.set_media(static_cast<d::MediaType>(1 + random() % 4));
    interaction.set_direction(i % 4 == 3 ? d::DIRECTION_OUTBOUND : d::DIRECTION_INBOUND);
    interaction.set_state(i + 2 >= options.interactions ? d::INTERACTION_DISCONNECTED
                                                        : d::INTERACTION_QUALIFIED);
    interaction.set_wrapup_required(true);
    d::Contact contact;
    contact.ParseFromString(
        demo_contact(random() % std::max<uint32_t>(1, options.contacts), options.seed));
    interaction.set_contact_id(contact.id());
    interaction.set_peer_name(contact.first_name() + " " + contact.last_name());
    interaction.set_peer_address(interaction.media() == d::MEDIA_EMAIL ? contact.work_email()
                                                                       : contact.work_phone());
    interaction.set_started_ms(options.now_ms - (options.interactions - i) * 11 * 60 * 1000);
    interaction.set_duration_s(static_cast<int32_t>(60 + random() % 600));
    interaction.set_ended_ms(interaction.started_ms() + interaction.duration_s() * 1000);
    interaction.set_agent_user_id(options.user);
    interaction.set_queue_id("queue-" + std::to_string(1 + i % 2));
    interaction.set_queue_name(queues[i % 2]);
    interaction.set_subject(kTopics[random() % 8]);
    if (interaction.state() == d::INTERACTION_QUALIFIED) {
      interaction.set_wrapup_code_id("wrapup-1");
      interaction.set_wrapup_code_name("Solved");
    }
    (*interaction.mutable_participant_data())["customer_number"] = std::to_string(100000 + i);
    interaction.set_day(today);
    OUTPOST_RETURN_IF_ERROR(writer.put(user, interaction));
  }
  for (uint32_t i = 0; i < options.voicemails; ++i) {
    d::Voicemail voicemail;
    voicemail.set_id("voicemail-" + std::to_string(i + 1));
    d::Contact contact;
    contact.ParseFromString(
        demo_contact(random() % std::max<uint32_t>(1, options.contacts), options.seed));
    voicemail.set_caller_name(contact.first_name() + " " + contact.last_name());
    voicemail.set_caller_address(contact.cell_phone());
    voicemail.set_received_ms(options.now_ms - (options.voicemails - i) * 47 * 60 * 1000);
    voicemail.set_duration_s(static_cast<int32_t>(10 + random() % 90));
    voicemail.set_read(i + 2 < options.voicemails);
    attach_sim_audio(voicemail);  // the server fetches the audio lazily (adapters/sim_media.h)
    OUTPOST_RETURN_IF_ERROR(writer.put(user, voicemail));
  }
  return writer.flush();
}

}  // namespace outpost
