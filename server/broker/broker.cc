#include "server/broker/broker.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/file.h"
#include "common/telemetry.h"

namespace edgefleet::broker {
namespace {

namespace fs = std::filesystem;
using common::Error;
using common::ErrorCode;

constexpr std::size_t kMaxPasswdBytes = 64 * 1024 * 1024;
constexpr auto kPasswdPerms = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read;
constexpr auto kPublicPerms = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read;
constexpr auto kSecretPerms = fs::perms::owner_read | fs::perms::owner_write;

Error IoError(const std::string& what) { return Error(ErrorCode::kIo, what + ": " + std::strerror(errno)); }

Expected<void> EnsureDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(ErrorCode::kIo, "creating " + dir.string() + ": " + ec.message());
  return common::Ok();
}

// An exclusive flock held for the object's life.
class DirLock {
 public:
  static Expected<DirLock> Acquire(const fs::path& dir) {
    EDGEFLEET_RETURN_IF_ERROR(EnsureDir(dir));
    const fs::path path = dir / ".lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return IoError("opening " + path.string());
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        Error e = IoError("locking " + path.string());
        ::close(fd);
        return e;
      }
    }
    return DirLock(fd);
  }
  DirLock(DirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DirLock& operator=(DirLock&&) = delete;
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the lock
  }

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

struct PasswdLine {
  std::string user;
  std::string entry;
};

Expected<std::vector<PasswdLine>> ReadPasswd(const fs::path& path) {
  std::vector<PasswdLine> lines;
  auto text = common::ReadFile(path, kMaxPasswdBytes);
  if (!text.ok()) {
    if (text.error().code() == ErrorCode::kNotFound) return lines;
    return std::move(text).error();
  }
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      return Error(ErrorCode::kCorrupt, path.string() + " has a line without \"user:\"");
    }
    lines.push_back(PasswdLine{line.substr(0, colon), line.substr(colon + 1)});
  }
  return lines;
}

Expected<void> WritePasswd(const fs::path& path, const std::vector<PasswdLine>& lines) {
  std::string text;
  for (const PasswdLine& l : lines) text += l.user + ":" + l.entry + "\n";
  return common::WriteFileAtomically(path, text, kPasswdPerms);
}

// Under the lock: sets (or with an empty entry removes) one user's line.
Expected<void> SetLine(const fs::path& data_dir, std::string_view user, const std::string& entry) {
  const BrokerFiles files = FilesFor(data_dir);
  EDGEFLEET_ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(files.dir));
  EDGEFLEET_ASSIGN_OR_RETURN(std::vector<PasswdLine> lines, ReadPasswd(files.password_file));
  std::vector<PasswdLine> out;
  bool replaced = false;
  for (PasswdLine& l : lines) {
    if (l.user == user) {
      if (!entry.empty() && !replaced) out.push_back(PasswdLine{l.user, entry});
      replaced = true;
    } else {
      out.push_back(std::move(l));
    }
  }
  if (!replaced && !entry.empty()) out.push_back(PasswdLine{std::string(user), entry});
  return WritePasswd(files.password_file, out);
}

Expected<Credential> ParseCredential(const std::string& text, const fs::path& path) {
  std::string line = text.substr(0, text.find('\n'));
  const auto colon = line.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= line.size()) {
    return Error(ErrorCode::kCorrupt, path.string() + " is not \"user:password\"");
  }
  return Credential{line.substr(0, colon), line.substr(colon + 1)};
}

}  // namespace

BrokerFiles FilesFor(const fs::path& data_dir) {
  std::error_code ec;
  fs::path base = fs::absolute(data_dir, ec);
  if (ec) base = data_dir;
  BrokerFiles f;
  f.dir = base.lexically_normal() / "mosquitto";
  f.config = f.dir / "mosquitto.conf";
  f.password_file = f.dir / "passwd";
  f.acl_file = f.dir / "acl";
  f.bridge_credential = f.dir / "bridge.credential";
  return f;
}

Expected<void> ValidateDeviceId(std::string_view id) {
  if (!telemetry::IsValidDeviceId(id)) {
    return Error(ErrorCode::kInvalidArgument,
                 "device id must be 1 to 128 characters from A-Z a-z 0-9 . _ - (not starting with . or -)");
  }
  if (id == kBridgeUsername) {
    return Error(ErrorCode::kInvalidArgument, std::string(kBridgeUsername) + " is reserved for the server");
  }
  return common::Ok();
}

Expected<std::string> HashPasswordWithSalt(std::string_view password, std::span<const std::uint8_t> salt,
                                           int iterations) {
  EDGEFLEET_ASSIGN_OR_RETURN(auto hash, common::Pbkdf2HmacSha512(password, salt, iterations, kHashBytes));
  EDGEFLEET_ASSIGN_OR_RETURN(std::string salt64, common::Base64Encode(salt));
  EDGEFLEET_ASSIGN_OR_RETURN(std::string hash64, common::Base64Encode(hash));
  return "$7$" + std::to_string(iterations) + "$" + salt64 + "$" + hash64;
}

Expected<std::string> HashPassword(std::string_view password, int iterations) {
  EDGEFLEET_ASSIGN_OR_RETURN(auto salt, common::SecureRandomBytes(kSaltBytes));
  return HashPasswordWithSalt(password, salt, iterations);
}

Expected<bool> VerifyPassword(std::string_view entry, std::string_view password) {
  auto corrupt = [] { return Error(ErrorCode::kCorrupt, "not a $7$ password entry"); };
  if (!entry.starts_with("$7$")) return corrupt();
  std::string_view rest = entry.substr(3);
  const auto d1 = rest.find('$');
  if (d1 == std::string_view::npos) return corrupt();
  int iterations = 0;
  const auto [end, err] = std::from_chars(rest.data(), rest.data() + d1, iterations);
  if (err != std::errc() || end != rest.data() + d1 || iterations < 1) return corrupt();
  rest = rest.substr(d1 + 1);
  const auto d2 = rest.find('$');
  if (d2 == std::string_view::npos) return corrupt();
  auto salt = common::Base64Decode(rest.substr(0, d2));
  auto hash = common::Base64Decode(rest.substr(d2 + 1));
  if (!salt.ok() || !hash.ok() || salt->empty() || hash->size() != kHashBytes) return corrupt();
  EDGEFLEET_ASSIGN_OR_RETURN(auto computed, common::Pbkdf2HmacSha512(password, *salt, iterations, kHashBytes));
  const std::string_view a(reinterpret_cast<const char*>(computed.data()), computed.size());
  const std::string_view b(reinterpret_cast<const char*>(hash->data()), hash->size());
  return common::ConstantTimeEquals(a, b);
}

Expected<void> AddDeviceCredential(const fs::path& data_dir, std::string_view id, std::string_view token) {
  EDGEFLEET_RETURN_IF_ERROR(ValidateDeviceId(id));
  if (token.empty()) return Error(ErrorCode::kInvalidArgument, "device token is empty");
  EDGEFLEET_ASSIGN_OR_RETURN(std::string entry, HashPassword(token));
  return SetLine(data_dir, id, entry);
}

Expected<void> RemoveDeviceCredential(const fs::path& data_dir, std::string_view id) {
  EDGEFLEET_RETURN_IF_ERROR(ValidateDeviceId(id));
  return SetLine(data_dir, id, "");
}

Expected<bool> HasCredential(const fs::path& data_dir, std::string_view username) {
  EDGEFLEET_ASSIGN_OR_RETURN(auto lines, ReadPasswd(FilesFor(data_dir).password_file));
  for (const PasswdLine& l : lines) {
    if (l.user == username) return true;
  }
  return false;
}

Expected<Credential> ReadBridgeCredential(const fs::path& data_dir) {
  const fs::path path = FilesFor(data_dir).bridge_credential;
  auto text = common::ReadFile(path, 4096);
  if (!text.ok()) {
    if (text.error().code() == ErrorCode::kNotFound) {
      return Error(ErrorCode::kNotFound, "no bridge credential in " + path.string() +
                                             " (run `edgefleet broker config`)");
    }
    return std::move(text).error();
  }
  return ParseCredential(*text, path);
}

Expected<Credential> EnsureBridgeCredential(const fs::path& data_dir) {
  const BrokerFiles files = FilesFor(data_dir);
  Credential credential;
  {
    EDGEFLEET_ASSIGN_OR_RETURN(DirLock lock, DirLock::Acquire(files.dir));
    auto existing = ReadBridgeCredential(data_dir);
    if (existing.ok()) {
      credential = std::move(existing).value();
    } else if (existing.error().code() == ErrorCode::kNotFound) {
      EDGEFLEET_ASSIGN_OR_RETURN(auto secret, common::SecureRandomBytes(32));
      credential = Credential{std::string(kBridgeUsername), common::HexEncode(secret)};
      EDGEFLEET_RETURN_IF_ERROR(common::WriteFileAtomically(
          files.bridge_credential, credential.username + ":" + credential.password + "\n", kSecretPerms));
    } else {
      return std::move(existing).error();
    }
  }
  // Keep the passwd line if it verifies (a new salt would only churn the file).
  EDGEFLEET_ASSIGN_OR_RETURN(auto lines, ReadPasswd(files.password_file));
  for (const PasswdLine& l : lines) {
    if (l.user != credential.username) continue;
    auto ok = VerifyPassword(l.entry, credential.password);
    if (ok.ok() && *ok) return credential;
  }
  EDGEFLEET_ASSIGN_OR_RETURN(std::string entry, HashPassword(credential.password));
  EDGEFLEET_RETURN_IF_ERROR(SetLine(data_dir, credential.username, entry));
  return credential;
}

std::string AclText() {
  std::string t;
  t += "# edgefleet broker ACL (written by `edgefleet broker config`; see docs/mqtt.md).\n";
  t += "# The server's bridge reads every device's telemetry.\n";
  t += "user " + std::string(kBridgeUsername) + "\n";
  t += "topic read edge-ai/device/+/#\n";
  t += "\n";
  t += "# Every user is a device whose username is its id: it may publish and\n";
  t += "# subscribe only under its own subtree. (Mosquitto applies pattern lines to\n";
  t += "# every user; the bridge's name is reserved, so no device has its subtree.)\n";
  t += "pattern readwrite edge-ai/device/%u/#\n";
  return t;
}

std::string ConfigText(const BrokerFiles& files, const BrokerConfigOptions& options) {
  std::string t;
  t += "# edgefleet Mosquitto 2.0 configuration (written by `edgefleet broker config`;\n";
  t += "# see docs/mqtt.md). Start: mosquitto -c " + files.config.string() + "\n";
  t += "# Reload passwd and acl after `edgefleet device add`: send SIGHUP.\n";
  t += "per_listener_settings false\n";
  t += "listener " + std::to_string(options.port) + " " + options.bind_address + "\n";
  t += "allow_anonymous false\n";
  t += "password_file " + files.password_file.string() + "\n";
  t += "acl_file " + files.acl_file.string() + "\n";
  if (options.run_as_user) t += "user " + *options.run_as_user + "\n";
  if (options.persistence) {
    t += "persistence true\n";
    t += "persistence_location " + files.dir.string() + "/\n";
    t += "autosave_interval 60\n";
  } else {
    t += "persistence false\n";
  }
  if (options.log_file) {
    t += "log_dest file " + options.log_file->string() + "\n";
  } else {
    t += "log_dest stderr\n";
  }
  t += "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n";
  t += "connection_messages true\n";
  // A slow subscriber (the bridge) must not make the broker hoard memory.
  t += "max_queued_messages 10000\n";
  return t;
}

Expected<BrokerFiles> WriteBrokerConfig(const fs::path& data_dir, const BrokerConfigOptions& options) {
  if (options.port < 1 || options.port > 65535) return Error(ErrorCode::kInvalidArgument, "broker port out of range");
  if (options.bind_address.empty() || options.bind_address.find_first_of(" \n#") != std::string::npos) {
    return Error(ErrorCode::kInvalidArgument, "bad broker bind address");
  }
  if (options.run_as_user && (options.run_as_user->empty() ||
                              options.run_as_user->find_first_of(" \n#") != std::string::npos)) {
    return Error(ErrorCode::kInvalidArgument, "bad broker user name");
  }
  const BrokerFiles files = FilesFor(data_dir);
  EDGEFLEET_RETURN_IF_ERROR(EnsureDir(files.dir));
  EDGEFLEET_RETURN_IF_ERROR(EnsureBridgeCredential(data_dir));
  EDGEFLEET_RETURN_IF_ERROR(common::WriteFileAtomically(files.acl_file, AclText(), kPublicPerms));
  EDGEFLEET_RETURN_IF_ERROR(common::WriteFileAtomically(files.config, ConfigText(files, options), kPublicPerms));
  return files;
}

}  // namespace edgefleet::broker
