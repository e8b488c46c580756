// The sealed per-user platform logins (decision 035): what is saved opens again with the same
// token key, for the same tenant and user only; the file holds no readable secret; another
// key, a file copied to another user's name or a tampered file open as nothing (and go).
#include "apps/outpost-server/login_vault.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace outpost::server_app {
namespace {

namespace fs = std::filesystem;

class LoginVaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path().string() + "/outpost-login-vault-" + std::to_string(getpid());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string file(const std::string& name) {
    std::ifstream in(dir_ + "/" + name, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string dir_;
  const std::string key_ = std::string(32, 'k');
  const std::string secret_ = R"({"access_token":"AT-secret-123","refresh_token":"RT-456"})";
};

TEST_F(LoginVaultTest, ASavedLoginOpensForItsUserOnlyAndIsNotReadableOnDisk) {
  LoginVault vault(dir_, key_);
  const AgentRef ann{"acme", "ann"}, bo{"acme", "bo"};
  ASSERT_TRUE(vault.save(ann, secret_).ok());
  auto back = vault.load(ann);
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ(**back, secret_);
  EXPECT_FALSE(vault.load(bo)->has_value());
  const std::string sealed = file("acme+ann.login");
  EXPECT_EQ(sealed.find("AT-secret"), std::string::npos);
  EXPECT_EQ(sealed.find("RT-456"), std::string::npos);
  struct stat info {};
  ASSERT_EQ(::stat((dir_ + "/acme+ann.login").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  // A server with the same token key (a restart) opens it.
  LoginVault again(dir_, key_);
  EXPECT_EQ(**again.load(ann), secret_);
  // Names that are not plain names never become paths.
  EXPECT_EQ(vault.save(AgentRef{"acme", "../x"}, secret_).code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(vault.forget(ann).ok());
  EXPECT_FALSE(vault.load(ann)->has_value());
}

TEST_F(LoginVaultTest, AnotherKeyAnotherUsersNameOrATamperedFileOpensAsNothing) {
  LoginVault vault(dir_, key_);
  const AgentRef ann{"acme", "ann"}, bo{"acme", "bo"};
  ASSERT_TRUE(vault.save(ann, secret_).ok());
  // Copied to bo's name: bound to ann, it does not open for bo (and is removed).
  fs::copy_file(dir_ + "/acme+ann.login", dir_ + "/acme+bo.login");
  EXPECT_FALSE(vault.load(bo)->has_value());
  EXPECT_FALSE(fs::exists(dir_ + "/acme+bo.login"));
  // Another token key (another deployment).
  LoginVault other(dir_, std::string(32, 'o'));
  EXPECT_FALSE(other.load(ann)->has_value());
  // Tampered: one bit flipped.
  ASSERT_TRUE(vault.save(ann, secret_).ok());
  std::string sealed = file("acme+ann.login");
  sealed[sealed.size() / 2] ^= 1;
  std::ofstream(dir_ + "/acme+ann.login", std::ios::binary | std::ios::trunc) << sealed;
  EXPECT_FALSE(vault.load(ann)->has_value());
  std::ofstream(dir_ + "/acme+ann.login", std::ios::binary | std::ios::trunc) << "short";
  EXPECT_FALSE(vault.load(ann)->has_value());
}

}  // namespace
}  // namespace outpost::server_app
