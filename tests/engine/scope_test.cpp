#include "engine/scope.h"

#include <gtest/gtest.h>

#include <vector>

#include "engine/limits.h"

namespace outpost {
namespace {

TEST(Scope, FormatsAndParsesBothKinds) {
  auto user = ScopeName::user("acme", "agent.smith");
  ASSERT_TRUE(user.ok()) << user.status().to_string();
  EXPECT_EQ(user->str(), "user/acme/agent.smith");
  EXPECT_EQ(user->kind(), ScopeName::Kind::kUser);
  EXPECT_EQ(user->tenant(), "acme");
  EXPECT_EQ(user->user(), "agent.smith");

  auto org = ScopeName::org("acme");
  ASSERT_TRUE(org.ok());
  EXPECT_EQ(org->str(), "org/acme");
  EXPECT_TRUE(org->is_org());
  EXPECT_EQ(org->user(), "");

  EXPECT_EQ(ScopeName::format_user("acme", "agent.smith"), user->str());
  EXPECT_EQ(ScopeName::format_org("acme"), org->str());
}

TEST(Scope, ParseIsTheInverseOfStr) {
  for (const std::string& text :
       std::vector<std::string>{"user/acme/ann", "org/acme", "user/A-z_0.9/b",
                                "org/" + std::string(limits::kMaxNameLength, 't'),
                                "user/t/" + std::string(limits::kMaxNameLength, 'u')}) {
    auto parsed = ScopeName::parse(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status().to_string();
    EXPECT_EQ(parsed->str(), text);
    auto again = parsed->is_org() ? ScopeName::org(parsed->tenant())
                                  : ScopeName::user(parsed->tenant(), parsed->user());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *parsed);
  }
}

TEST(Scope, AcceptsWhatATokenAccepts) {
  // The names a token may carry (transport/token.cpp checks them with is_valid_name).
  EXPECT_TRUE(is_valid_name("A-z_0.9"));
  EXPECT_TRUE(is_valid_name(std::string(limits::kMaxNameLength, 'a')));
  EXPECT_TRUE(ScopeName::user("t1", "push-agent-3-17").ok());
}

TEST(Scope, RefusesBadNames) {
  const std::string too_long(limits::kMaxNameLength + 1, 'a');
  for (const std::string& bad : std::vector<std::string>{
           std::string(), std::string("a/b"), too_long, std::string("a\nb"), std::string("a\0b", 3),
           std::string("tab\t"), std::string("caf\xc3\xa9"), std::string("a b"),
           std::string("..\x7f")}) {
    EXPECT_FALSE(is_valid_name(bad)) << bad;
    EXPECT_EQ(ScopeName::org(bad).status().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(ScopeName::user(bad, "ann").status().code(), ErrorCode::kInvalidArgument) << bad;
    EXPECT_EQ(ScopeName::user("acme", bad).status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(Scope, ParseRefusesWhatIsNotAScope) {
  for (const std::string& bad : std::vector<std::string>{
           "", "user/", "user/acme", "user/acme/", "user//ann", "user/acme/ann/x", "org/",
           "org/a/b", "org", "team/acme", "USER/acme/ann", " org/acme", "org/acme\n",
           "org/" + std::string(limits::kMaxNameLength + 1, 't')}) {
    EXPECT_EQ(ScopeName::parse(bad).status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace outpost
