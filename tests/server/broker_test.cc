// Broker configuration: Mosquitto's $7$ password format, the passwd file
// edits, the bridge credential, the generated config and ACL.
#include "server/broker/broker.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "common/file.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::broker {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const fs::path& path) {
  auto text = common::ReadFile(path, 1 << 20);
  EXPECT_TRUE(text.ok()) << path;
  return text.ok() ? *text : std::string();
}

// Written by Debian's `mosquitto_passwd -c -b FILE dev1 secret` (2.0.11).
constexpr std::string_view kMosquittoPasswdEntry =
    "$7$101$Kk1XSPSz9nij7EPw$K59UjWUAdEz43p3JKh4z8opAc2ss/lfoLX2bLs5z3CDNR9NAek64WWwz5pW538JVKpvRPUDB+ZpMKDDtKEiS8Q==";

TEST(BrokerPasswords, MatchMosquittoPasswd) {
  auto salt = common::Base64Decode("Kk1XSPSz9nij7EPw");
  ASSERT_TRUE(salt.ok());
  auto entry = HashPasswordWithSalt("secret", *salt, 101);
  ASSERT_TRUE(entry.ok()) << entry.error().ToString();
  EXPECT_EQ(*entry, kMosquittoPasswdEntry);
  EXPECT_TRUE(VerifyPassword(kMosquittoPasswdEntry, "secret").value());
  EXPECT_FALSE(VerifyPassword(kMosquittoPasswdEntry, "Secret").value());
}

TEST(BrokerPasswords, RandomSaltsAndMalformedEntries) {
  auto a = HashPassword("token");
  auto b = HashPassword("token");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(a->starts_with("$7$" + std::to_string(kDefaultIterations) + "$"));
  EXPECT_TRUE(VerifyPassword(*a, "token").value());
  EXPECT_TRUE(VerifyPassword(*b, "token").value());
  for (const char* bad : {"", "$6$101$abc$def", "$7$$Kk1XSPSz9nij7EPw$abc", "$7$101$Kk1XSPSz9nij7EPw",
                          "$7$x$Kk1XSPSz9nij7EPw$K59U", "$7$101$!!!!$K59U"}) {
    EXPECT_EQ(VerifyPassword(bad, "x").error().code(), common::ErrorCode::kCorrupt) << bad;
  }
}

TEST(BrokerCredentials, DeviceIds) {
  EXPECT_TRUE(ValidateDeviceId("fan-01").ok());
  for (const std::string& bad :
       std::vector<std::string>{"", "a/b", "a+b", "a#b", "a:b", "a b", "-a", std::string(kBridgeUsername)}) {
    EXPECT_FALSE(ValidateDeviceId(bad).ok()) << bad;
  }
}

TEST(BrokerCredentials, AddReplaceRemoveKeepOthers) {
  TempDir dir;
  ASSERT_TRUE(AddDeviceCredential(dir.path(), "fan-1", "t1").ok());
  ASSERT_TRUE(AddDeviceCredential(dir.path(), "fan-2", "t2").ok());
  ASSERT_TRUE(AddDeviceCredential(dir.path(), "fan-1", "t1-new").ok());
  const std::string text = ReadText(FilesFor(dir.path()).password_file);
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 2u) << text;
  EXPECT_TRUE(lines[0].starts_with("fan-1:$7$"));
  EXPECT_TRUE(lines[1].starts_with("fan-2:$7$"));
  EXPECT_TRUE(VerifyPassword(lines[0].substr(6), "t1-new").value());
  EXPECT_FALSE(VerifyPassword(lines[0].substr(6), "t1").value());
  EXPECT_TRUE(VerifyPassword(lines[1].substr(6), "t2").value());
  struct stat st{};
  ASSERT_EQ(::stat(FilesFor(dir.path()).password_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);

  EXPECT_TRUE(HasCredential(dir.path(), "fan-2").value());
  ASSERT_TRUE(RemoveDeviceCredential(dir.path(), "fan-2").ok());
  EXPECT_FALSE(HasCredential(dir.path(), "fan-2").value());
  EXPECT_TRUE(HasCredential(dir.path(), "fan-1").value());
  EXPECT_TRUE(RemoveDeviceCredential(dir.path(), "never-added").ok());

  EXPECT_EQ(AddDeviceCredential(dir.path(), "fan-1", "").error().code(), common::ErrorCode::kInvalidArgument);
  EXPECT_EQ(AddDeviceCredential(dir.path(), "a/b", "t").error().code(), common::ErrorCode::kInvalidArgument);
  EXPECT_EQ(AddDeviceCredential(dir.path(), kBridgeUsername, "t").error().code(),
            common::ErrorCode::kInvalidArgument);
}

TEST(BrokerCredentials, RewritesKeepTheFilesGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to change a file's group";
  TempDir dir;
  ASSERT_TRUE(AddDeviceCredential(dir.path(), "fan-1", "t1").ok());
  const auto passwd = FilesFor(dir.path()).password_file;
  const gid_t group = 4242;
  ASSERT_EQ(::chown(passwd.c_str(), 0, group), 0);
  ASSERT_TRUE(AddDeviceCredential(dir.path(), "fan-2", "t2").ok());
  struct stat st{};
  ASSERT_EQ(::stat(passwd.c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, group);
  EXPECT_TRUE(HasCredential(dir.path(), "fan-1").value());
}

TEST(BrokerCredentials, ConcurrentAddsLoseNothing) {
  TempDir dir;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const std::string id = "dev-" + std::to_string(t) + "-" + std::to_string(i);
        EXPECT_TRUE(AddDeviceCredential(dir.path(), id, "tok").ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 5; ++i) {
      EXPECT_TRUE(HasCredential(dir.path(), "dev-" + std::to_string(t) + "-" + std::to_string(i)).value());
    }
  }
}

TEST(BrokerCredentials, PasswdWrittenByOthersIsCorrupt) {
  TempDir dir;
  const auto files = FilesFor(dir.path());
  fs::create_directories(files.dir);
  ASSERT_TRUE(common::WriteFileAtomically(files.password_file, "no colon here\n", fs::perms::owner_all).ok());
  EXPECT_EQ(AddDeviceCredential(dir.path(), "fan-1", "t").error().code(), common::ErrorCode::kCorrupt);
}

TEST(BrokerCredentials, BridgeCredentialIsGeneratedOnce) {
  TempDir dir;
  EXPECT_EQ(ReadBridgeCredential(dir.path()).error().code(), common::ErrorCode::kNotFound);
  auto first = EnsureBridgeCredential(dir.path());
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  EXPECT_EQ(first->username, kBridgeUsername);
  EXPECT_EQ(first->password.size(), 64u);
  const std::string passwd = ReadText(FilesFor(dir.path()).password_file);
  auto second = EnsureBridgeCredential(dir.path());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->password, first->password);
  EXPECT_EQ(ReadText(FilesFor(dir.path()).password_file), passwd);  // not re-hashed
  EXPECT_EQ(ReadBridgeCredential(dir.path())->password, first->password);
  struct stat st{};
  ASSERT_EQ(::stat(FilesFor(dir.path()).bridge_credential.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // A lost passwd line is restored.
  ASSERT_TRUE(common::WriteFileAtomically(FilesFor(dir.path()).password_file, "", fs::perms::owner_all).ok());
  ASSERT_TRUE(EnsureBridgeCredential(dir.path()).ok());
  EXPECT_TRUE(HasCredential(dir.path(), kBridgeUsername).value());
}

TEST(BrokerConfig, FilesAndContents) {
  TempDir dir;
  ASSERT_TRUE(AddDeviceCredential(dir.path(), "fan-1", "t1").ok());
  BrokerConfigOptions options;
  options.port = 18883;
  auto files = WriteBrokerConfig(dir.path(), options);
  ASSERT_TRUE(files.ok()) << files.error().ToString();
  EXPECT_TRUE(files->config.is_absolute());
  const std::string conf = ReadText(files->config);
  EXPECT_NE(conf.find("listener 18883 127.0.0.1\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("allow_anonymous false\n"), std::string::npos);
  EXPECT_NE(conf.find("password_file " + files->password_file.string() + "\n"), std::string::npos);
  EXPECT_NE(conf.find("acl_file " + files->acl_file.string() + "\n"), std::string::npos);
  EXPECT_NE(conf.find("persistence false\n"), std::string::npos);
  EXPECT_EQ(conf.find("\nuser "), std::string::npos);
  const std::string acl = ReadText(files->acl_file);
  EXPECT_NE(acl.find("user edgefleet-bridge\ntopic read edge-ai/device/+/#\n"), std::string::npos);
  EXPECT_NE(acl.find("pattern readwrite edge-ai/device/%u/#\n"), std::string::npos);
  EXPECT_TRUE(HasCredential(dir.path(), "fan-1").value());  // kept
  EXPECT_TRUE(HasCredential(dir.path(), kBridgeUsername).value());

  options.persistence = true;
  options.run_as_user = "mosquitto";
  ASSERT_TRUE(WriteBrokerConfig(dir.path(), options).ok());
  const std::string persistent = ReadText(files->config);
  EXPECT_NE(persistent.find("persistence true\npersistence_location " + files->dir.string() + "/\n"),
            std::string::npos);
  EXPECT_NE(persistent.find("user mosquitto\n"), std::string::npos);

  options.port = 0;
  EXPECT_FALSE(WriteBrokerConfig(dir.path(), options).ok());
  options.port = 1883;
  options.bind_address = "127.0.0.1\nallow_anonymous true";
  EXPECT_FALSE(WriteBrokerConfig(dir.path(), options).ok());
}

}  // namespace
}  // namespace edgefleet::broker
