#include "apps/outpost-sim/world.h"

#include <sstream>

#include "adapters/demo_data.h"
#include "outpost/domain.pb.h"

namespace outpost::sim {

namespace d = outpost::domain;

std::vector<std::string> World::all_scopes() const {
  std::vector<std::string> scopes;
  for (const std::string& tenant : tenants) scopes.push_back(ScopeName::format_org(tenant));
  for (const SimUser& user : users) scopes.push_back(user.user_scope());
  return scopes;
}

World make_world(int users) {
  World world;
  world.tenants = {"acme", "globex"};
  world.draft_ids = {"draft-1", "draft-2"};
  for (int i = 0; i < users; ++i) {
    world.users.push_back(SimUser{world.tenants[i % 2], "u" + std::to_string(i)});
  }
  return world;
}

namespace {

Status put(ServerCore& core, const std::string& scope, const google::protobuf::Message& record) {
  const Collection* collection = core.schema().find(record.GetDescriptor());
  if (collection == nullptr) return error(ErrorCode::kNotFound, "not a collection");
  return core.write([&](ServerWriteTx& tx) -> Status {
    auto version = tx.put(scope, collection->name, collection->key_of(record), collection->priority,
                          record.SerializeAsString());
    return version.ok() ? Status::Ok() : version.status();
  });
}

}  // namespace

Status seed_world(ServerCore& core, World& world, int64_t now_ms) {
  std::set<std::string> seeded_orgs;
  for (size_t i = 0; i < world.users.size(); ++i) {
    const SimUser& user = world.users[i];
    DemoDataOptions demo;
    demo.tenant = user.tenant;
    demo.user = user.user;
    demo.contacts = 6;
    demo.canned_responses = 2;
    demo.interactions = 6;
    demo.voicemails = 3;
    demo.now_ms = now_ms;
    demo.seed = 1;
    OUTPOST_RETURN_IF_ERROR(seed_demo_data(core, demo));
    seeded_orgs.insert(user.tenant);

    d::UserSetting secret;
    secret.set_name("secret." + user.tenant + "." + user.user);
    secret.set_value("private to " + user.user_scope());
    OUTPOST_RETURN_IF_ERROR(put(core, user.user_scope(), secret));
    world.private_keys[user.user_scope()].insert("user_setting/" + secret.name());
  }
  for (const std::string& tenant : world.tenants) {
    d::Contact contact;
    contact.set_id("contact-only-" + tenant);
    contact.set_first_name("Only");
    contact.set_last_name(tenant);
    OUTPOST_RETURN_IF_ERROR(put(core, ScopeName::format_org(tenant), contact));
    world.private_keys[ScopeName::format_org(tenant)].insert("contact/" + contact.id());
  }
  return Status::Ok();
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

std::string join_words(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text;
}

std::string text_record(const std::string& kind, const std::string& scope, const std::string& id) {
  return kind + "|" + scope + "|" + id;
}

}  // namespace outpost::sim
