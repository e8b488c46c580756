#include "tests/support/domain_harness.h"

#include <gtest/gtest.h>

#include <functional>

#include "engine/domain_mutators.h"
#include "support/views.h"

namespace outpost::testing {

using support::device_view;
using support::server_view;

void TestDevice::open() {
  client.reset();
  replica.reset();
  auto opened =
      Replica::open(path, Schema::domain(), &domain_mutators(),
                    {.tenant = who.tenant,
                     .user = who.user,
                     // One id per device file, as the app's runtime would make.
                     .client_id = "device-" + std::to_string(std::hash<std::string>{}(path))});
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  replica = std::move(opened).value();
  client = std::make_unique<SyncClient>(*replica, SyncClientOptions{.max_changes_per_pull = 50});
}

uint64_t TestDevice::mutate(const std::string& name, const google::protobuf::Message& args,
                            int64_t now_ms) {
  auto id = replica->mutate(name, args, now_ms);
  EXPECT_TRUE(id.ok()) << name << ": " << id.status().to_string();
  return id.ok() ? *id : 0;
}

DomainWorld::DomainWorld(const std::string& directory, SimPlatformOptions platform)
    : directory_(directory) {
  auto store = SqliteServerStore::open(directory + "/server.db");
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  store_ = std::move(store).value();
  core_ = std::make_unique<ServerCore>(*store_, Schema::domain(), domain_mutators());
  platform_ = std::make_unique<SimPlatform>(std::move(platform), *store_);
  core_->set_platform(platform_.get());
  domain_ = std::make_unique<DomainServer>(*core_);
}

TestDevice& DomainWorld::device(const std::string& name, const std::string& tenant,
                                const std::string& user) {
  auto device = std::make_unique<TestDevice>();
  device->path = directory_ + "/" + name + ".db";
  device->who = Principal{tenant, user, name};
  device->open();
  devices_.push_back(std::move(device));
  return *devices_.back();
}

int sync_in_process(ServerCore& core, TestDevice& device, int64_t now_ms, int max_exchanges) {
  device.client->on_connected();
  int exchanges = 0;
  for (; exchanges < max_exchanges; ++exchanges) {
    auto frame = device.client->next_request();
    EXPECT_TRUE(frame.ok()) << frame.status().to_string();
    if (!frame.ok() || !frame->has_value()) break;
    if ((*frame)->has_push()) {
      auto response = core.push(device.who, (*frame)->push(), now_ms);
      EXPECT_TRUE(response.ok()) << response.status().to_string();
      if (!response.ok()) break;
      Status applied = device.client->on_push_response(*response);
      EXPECT_TRUE(applied.ok()) << applied.to_string();
    } else {
      auto response = core.pull(device.who, (*frame)->pull());
      if (!response.ok()) {
        // A cursor the server did not issue: the device starts that scope over.
        auto restarted = device.client->on_request_refused(response.status());
        EXPECT_TRUE(restarted.ok()) << restarted.status().to_string();
        EXPECT_TRUE(restarted.ok() && *restarted) << response.status().to_string();
        if (!restarted.ok() || !*restarted) break;
        continue;
      }
      Status applied = device.client->on_pull_response(*response);
      EXPECT_TRUE(applied.ok()) << applied.to_string();
    }
  }
  EXPECT_LT(exchanges, max_exchanges) << "sync did not settle";
  return exchanges;
}

void DomainWorld::sync(TestDevice& device) {
  sync_in_process(*core_, device, now_ms);
}

void DomainWorld::seed(const std::string& tenant, const std::string& user,
                       const google::protobuf::Message& record) {
  Status written = core_->write_as(Principal{tenant, user, "seed"}, now_ms,
                                   [&](MutationContext& ctx) { return ctx.put(record); });
  ASSERT_TRUE(written.ok()) << written.to_string();
}

void DomainWorld::platform_event(const upstream::Event& event) {
  Status applied = domain_->apply(event, now_ms);
  ASSERT_TRUE(applied.ok()) << applied.to_string();
}

void DomainWorld::run_platform() {
  auto events = platform_->poll(now_ms);
  ASSERT_TRUE(events.ok()) << events.status().to_string();
  for (const upstream::Event& event : *events) platform_event(event);
  auto ticked = domain_->tick(platform_->agents(), now_ms);
  ASSERT_TRUE(ticked.ok()) << ticked.status().to_string();
}

void DomainWorld::expect_converged(TestDevice& device) {
  auto pending = device.replica->pending();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty()) << device.who.device << " has pending mutations";
  EXPECT_EQ(device_view(*device.replica, SCOPE_USER),
            server_view(*store_, {device.who.user_scope()}))
      << device.who.device;
  EXPECT_EQ(device_view(*device.replica, SCOPE_ORG), server_view(*store_, {device.who.org_scope()}))
      << device.who.device;
}

}  // namespace outpost::testing
