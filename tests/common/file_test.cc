#include "common/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/support/temp_dir.h"

namespace edgefleet::common {
namespace {

namespace fs = std::filesystem;

TEST(WriteFileAtomically, WritesReplacesAndLeavesNoTemporary) {
  TempDir dir;
  const fs::path path = dir.path() / "config.toml";
  ASSERT_TRUE(WriteFileAtomically(path, std::string_view("first"), fs::perms::owner_read |
                                                                       fs::perms::owner_write)
                  .ok());
  EXPECT_EQ(ReadFile(path, 100).value(), "first");
  ASSERT_TRUE(WriteFileAtomically(path, std::string_view("second, longer"),
                                  fs::perms::owner_read | fs::perms::owner_write)
                  .ok());
  EXPECT_EQ(ReadFile(path, 100).value(), "second, longer");
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);  // no ".config.toml.tmp.*" left behind
}

TEST(WriteFileAtomically, AppliesThePermissionsWhateverTheUmask) {
  TempDir dir;
  const fs::path path = dir.path() / "key.pem";
  const mode_t old = ::umask(0);
  const auto written = WriteFileAtomically(path, std::string_view("secret"),
                                           fs::perms::owner_read | fs::perms::owner_write);
  ::umask(old);
  ASSERT_TRUE(written.ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(WriteFileAtomically, FailsCleanlyWhenTheDirectoryIsMissing) {
  TempDir dir;
  const auto written = WriteFileAtomically(dir.path() / "missing" / "x", std::string_view("x"),
                                           fs::perms::owner_read);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(written.error().message().find("missing"), std::string::npos);
}

TEST(ReadFile, ReportsMissingTooLargeAndNotRegular) {
  TempDir dir;
  EXPECT_EQ(ReadFile(dir.path() / "absent", 10).error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(WriteFileAtomically(dir.path() / "big", std::string(100, 'x'),
                                  fs::perms::owner_read | fs::perms::owner_write)
                  .ok());
  EXPECT_EQ(ReadFile(dir.path() / "big", 99).error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(ReadFile(dir.path() / "big", 100).value().size(), 100u);
  EXPECT_EQ(ReadFile(dir.path(), 100).error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgefleet::common
