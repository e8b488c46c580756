#include "transport/token_key_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace outpost {
namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "outpost-key-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(TokenKeyFile, CreatesAPrivateRandomKey) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  Result<std::string> key = load_or_create_key(dir.path());
  ASSERT_TRUE(key.ok()) << key.status().to_string();
  EXPECT_EQ(key->size(), kTokenKeyBytes);
  EXPECT_NE(*key, std::string(kTokenKeyBytes, '\0'));

  struct stat info {};
  ASSERT_EQ(::stat((dir.path() + "/token.key").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(static_cast<size_t>(info.st_size), kTokenKeyBytes);
  // Nothing but the key is left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(TokenKeyFile, ReusesTheExistingKey) {
  TempDir dir;
  Result<std::string> first = load_or_create_key(dir.path());
  Result<std::string> second = load_or_create_key(dir.path());
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);

  TempDir other;
  EXPECT_NE(load_or_create_key(other.path()).value(), *first);
}

TEST(TokenKeyFile, ReadsAKeyWrittenByAnOperator) {
  TempDir dir;
  std::string key(kTokenKeyBytes, 'q');
  write_file(dir.path() + "/token.key", key);
  EXPECT_EQ(load_or_create_key(dir.path()).value(), key);
}

TEST(TokenKeyFile, RefusesAKeyOfTheWrongSize) {
  for (size_t size : {size_t{0}, size_t{31}, size_t{33}, size_t{4096}}) {
    TempDir dir;
    write_file(dir.path() + "/token.key", std::string(size, 'k'));
    Result<std::string> key = load_or_create_key(dir.path());
    EXPECT_EQ(key.status().code(), ErrorCode::kCorrupt) << size;
  }
  TempDir dir;
  fs::create_directory(dir.path() + "/token.key");
  EXPECT_EQ(load_or_create_key(dir.path()).status().code(), ErrorCode::kCorrupt);
}

TEST(TokenKeyFile, ReportsAMissingDirectory) {
  TempDir dir;
  Result<std::string> key = load_or_create_key(dir.path() + "/missing");
  EXPECT_EQ(key.status().code(), ErrorCode::kIo) << key.status().to_string();
}

}  // namespace
}  // namespace outpost
