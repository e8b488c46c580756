// new_client_id(): what SyncAgent and the CLI give a new replica file (decision 016).
#include "transport/client_id.h"

#include <gtest/gtest.h>

#include <set>

namespace outpost {
namespace {

TEST(ClientId, IsThirtyTwoHexDigits) {
  const std::string id = new_client_id();
  ASSERT_EQ(id.size(), 32u);
  for (char c : id) EXPECT_NE(std::string("0123456789abcdef").find(c), std::string::npos) << id;
}

TEST(ClientId, DiffersEveryCall) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.insert(new_client_id());
  EXPECT_EQ(ids.size(), 100u);
}

}  // namespace
}  // namespace outpost
