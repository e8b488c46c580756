// outpost-sim's in-process model of Genesys Cloud (decision 038) held to the same
// request/answer cases as the Python fake (tests/adapters/genesys/platform_cases.json, run
// against the fake by fake_genesys_selftest.py), and its notification socket on its own.
#include "apps/outpost-sim/genesys_model.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace outpost::sim {
namespace {

namespace json = boost::json;

constexpr int64_t kNow = 1'795'000'000'000;

json::value load_cases() {
  std::ifstream in(OUTPOST_PLATFORM_CASES);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

// The value at a JSON pointer ("/a/0/b"); "/a#" is the length of the array at /a.
json::value pointer(const json::value& root, std::string path) {
  const bool length = !path.empty() && path.back() == '#';
  if (length) path.pop_back();
  const json::value* at = &root;
  size_t start = 1;
  while (start <= path.size() && !path.empty()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    const std::string part = path.substr(start, slash - start);
    if (at->is_array()) {
      const auto& array = at->as_array();
      const size_t index = std::stoul(part);
      if (index >= array.size()) return nullptr;
      at = &array[index];
    } else if (at->is_object() && at->as_object().contains(part)) {
      at = &at->as_object().at(part);
    } else {
      return nullptr;
    }
    start = slash + 1;
  }
  if (length) return at->is_array() ? json::value(at->as_array().size()) : json::value(nullptr);
  return *at;
}

std::string substitute(std::string text, const std::map<std::string, std::string>& saved) {
  for (const auto& [name, value] : saved) {
    const std::string token = "${" + name + "}";
    for (size_t at = text.find(token); at != std::string::npos; at = text.find(token)) {
      text.replace(at, token.size(), value);
    }
  }
  return text;
}

// Numbers compare by value whatever their JSON type.
bool same(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
  return a == b;
}

TEST(GenesysModel, AnswersTheSharedCasesAsTheFakeDoes) {
  const json::value cases = load_cases();
  std::vector<std::string> users;
  for (const auto& user : cases.at("users").as_array()) users.emplace_back(user.as_string());
  int steps = 0;
  for (const auto& case_value : cases.at("cases").as_array()) {
    const auto& c = case_value.as_object();
    const std::string name(c.at("name").as_string());
    GenesysModel model(users, kNow);
    std::map<std::string, std::string> saved;
    for (const auto& step_value : c.at("steps").as_array()) {
      // Substitute ${name} in the step's text form, then read it again.
      const json::object step =
          json::parse(substitute(json::serialize(step_value), saved)).as_object();
      auto text = [&](const char* key) {
        const auto* v = step.if_contains(key);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      long status = 200;
      json::value result;
      std::string where = name + ": ";
      if (step.contains("act")) {
        const std::string act = text("act");
        where += act;
        std::string id;
        if (act == "route") {
          id = model.route(text("user"), text("media"), kNow);
        } else if (act == "disconnect") {
          status = model.disconnect(text("conversation"), kNow) ? 200 : 404;
        } else if (act == "voicemail") {
          id = model.leave_voicemail(text("user"), kNow);
        } else {
          status = model.supervisor_sets(text("user"), text("definition"), kNow) ? 200 : 404;
        }
        result = json::object{{"id", id}};
      } else {
        const std::string request = text("request");
        where += request;
        const size_t space = request.find(' ');
        const auto* body = step.if_contains("body");
        ModelAnswer answer = model.handle(request.substr(0, space), request.substr(space + 1),
                                          body ? json::serialize(*body) : "", kNow);
        status = answer.status;
        if (!answer.body.empty()) result = json::parse(answer.body);
      }
      const auto* want_status = step.if_contains("status");
      EXPECT_EQ(status, want_status ? want_status->to_number<long>() : 200) << where;
      if (const auto* expect = step.if_contains("expect")) {
        for (const auto& [path, want] : expect->as_object()) {
          const json::value got = pointer(result, std::string(path));
          EXPECT_TRUE(same(got, want))
              << where << " " << std::string(path) << ": got " << json::serialize(got) << ", want "
              << json::serialize(want);
        }
      }
      if (const auto* save = step.if_contains("save")) {
        for (const auto& [saved_name, path] : save->as_object()) {
          const json::value got = pointer(result, std::string(path.as_string()));
          saved[std::string(saved_name)] =
              got.is_string() ? std::string(got.as_string()) : json::serialize(got);
        }
      }
      ++steps;
    }
  }
  EXPECT_GT(steps, 30);
}

TEST(GenesysModel, TheSocketCarriesSubscribedEventsHeartbeatsPongAndClosing) {
  GenesysModel model({"agent-1"}, kNow);
  model.set_heartbeat_ms(1'000);
  model.set_channel_ttl_ms(10'000);
  auto made = json::parse(model.handle("POST", "/api/v2/notifications/channels", "{}", kNow).body);
  const std::string id(made.at("id").as_string());
  const std::string uri(made.at("connectUri").as_string());
  ASSERT_EQ(model
                .handle("PUT", "/api/v2/notifications/channels/" + id + "/subscriptions",
                        R"([{"id":"v2.users.agent-1.voicemail.messages"}])", kNow)
                .status,
            200);
  EXPECT_FALSE(model.open_socket("sim://channels/no-such-channel", kNow));
  ASSERT_TRUE(model.open_socket(uri, kNow));
  model.leave_voicemail("agent-1", kNow);
  model.supervisor_presence("agent-1", 3, kNow);  // not subscribed: not sent
  model.socket_send(R"({"message":"ping"})");
  model.tick(kNow + 2'500);
  bool closed = false;
  auto messages = model.take_socket_messages(&closed);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_NE(messages[0].find("v2.users.agent-1.voicemail.messages"), std::string::npos);
  EXPECT_NE(messages[1].find("pong"), std::string::npos);
  EXPECT_NE(messages[2].find("WebSocket Heartbeat"), std::string::npos);
  EXPECT_FALSE(closed);
  model.expire_channels(kNow + 3'000);
  model.tick(kNow + 3'000);
  messages = model.take_socket_messages(&closed);
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages.back().find("v2.system.socket_closing"), std::string::npos);
  EXPECT_TRUE(closed);
  EXPECT_FALSE(model.open_socket(uri, kNow + 3'000)) << "an expired channel is gone";
}

TEST(GenesysModel, ADraftPutExemptsTheWebWordsItWritesOverOnlyWhenItWentOutOnARead) {
  // Decision 062: a PUT is dated by its request's send. Went out within a round trip of a
  // read (no PUT landed between): the web words typed from that read on are the platform's
  // loss, even those typed while it was on its way. Sent long after its read (a blind
  // retry), or after a PUT landed since the read: nothing is exempt.
  GenesysModel model({"agent-1"}, kNow);
  model.set_round_trip_ms(300);
  const std::string c = model.route("agent-1", "email", kNow);
  const std::string path = "/api/v2/conversations/emails/" + c + "/messages/draft";
  const auto body = [](const std::string& text) {
    return json::serialize(json::object{{"subject", "Re"}, {"textBody", text}});
  };
  ASSERT_EQ(model.handle("PUT", path, body("Hello Ann"), kNow).status, 200);
  int64_t t = kNow + 1'000;
  int n = 0;
  // One case: the web types a word before the read (`early`) and one after it; the read
  // at t, a PUT sent at t + send_after that lands at t + land_after.
  const auto overwrite = [&](int64_t send_after, int64_t land_after, bool put_between) {
    const std::string early = "gweb" + std::to_string(++n), late = "gweb" + std::to_string(++n);
    EXPECT_EQ(model.web_edit_draft("agent-1", 0, early, t - 10), c);
    EXPECT_EQ(model.handle("GET", path, "", t).status, 200);
    if (put_between) {
      EXPECT_EQ(model.handle("PUT", path, body("x"), t + 50, t + 20).status, 200);
    }
    EXPECT_EQ(model.web_edit_draft("agent-1", 0, late, t + send_after + 10), c);
    EXPECT_EQ(model.handle("PUT", path, body("Hello Ann"), t + land_after, t + send_after).status,
              200);
    t += 10'000;
    return std::make_pair(model.overwritten_unseen(early), model.overwritten_unseen(late));
  };
  EXPECT_EQ(overwrite(100, 150, false), std::make_pair(false, true));       // at once, on time
  EXPECT_EQ(overwrite(100, 2'500, false), std::make_pair(false, true));     // at once, landing late
  EXPECT_EQ(overwrite(2'300, 2'400, false), std::make_pair(false, false));  // blind retry
  EXPECT_EQ(overwrite(100, 150, true), std::make_pair(false, false));       // a PUT landed since
}

}  // namespace
}  // namespace outpost::sim
