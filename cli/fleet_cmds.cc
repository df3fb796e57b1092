#include "cli/fleet_cmds.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/state.h"
#include "common/crypto.h"
#include "common/file.h"
#include "server/api/handler_util.h"
#include "server/api/model_json.h"
#include "server/clock.h"
#include "server/broker/broker.h"
#include "server/registry.h"

namespace edgefleet::cli {
namespace {

namespace fs = std::filesystem;

int FailWith(const common::Error& error) {
  Fail(error.message() + ".");
  // A missing --data-dir is bad usage (2), not a failure (1).
  return error.message().rfind("no data dir", 0) == 0 ? 2 : 1;
}

// ---- keys generate ----

struct KeysArgs {
  StateArgs state;
  bool force = false;
};

int KeysGenerate(const KeysArgs& args) {
  auto config = ResolveState(args.state);
  if (!config.ok()) return FailWith(config.error());
  const fs::path priv = server::PrivateKeyPath(config->data_dir);
  const fs::path pub = server::PublicKeyPath(config->data_dir);
  std::error_code ec;
  if (!args.force && fs::exists(priv, ec)) {
    return Fail(priv.string() + " exists; --force replaces it (devices that trust the old key then refuse updates).");
  }
  fs::create_directories(priv.parent_path(), ec);
  if (ec) return Fail("cannot create " + priv.parent_path().string() + ": " + ec.message() + ".");
  auto key = common::Ed25519PrivateKey::Generate();
  if (!key.ok()) return FailWith(key.error());
  if (auto w = common::WritePrivateKeyPem(key.value(), priv); !w.ok()) return FailWith(w.error());
  if (auto w = common::WritePublicKeyPem(key.value().public_key(), pub); !w.ok()) return FailWith(w.error());
  std::printf("wrote %s (private, 0600) and %s (public: give it to devices as --trusted-key)\n", priv.c_str(),
              pub.c_str());
  std::printf("public key %s\n", key.value().public_key().Hex().c_str());
  return 0;
}

// ---- device add ----

struct DeviceAddArgs {
  StateArgs state;
  std::string id;
};

int DeviceAdd(const DeviceAddArgs& args) {
  if (!server::api::IsDeviceId(args.id)) {
    return Fail("a device id is 1 to 128 letters, digits, '-', '_', '.' or ':'.");
  }
  // The broker's ids are narrower (no ':', not the bridge's user name): a
  // device must be able to connect with the id it is registered under.
  if (auto valid = broker::ValidateDeviceId(args.id); !valid.ok()) return FailWith(valid.error());
  auto config = ResolveState(args.state);
  if (!config.ok()) return FailWith(config.error());
  auto store = OpenStateStore(config.value());
  if (!store.ok()) return FailWith(store.error());
  auto token = NewToken("efd_");
  if (!token.ok()) return FailWith(token.error());
  auto hash = common::Sha256Hex(token.value());
  if (!hash.ok()) return FailWith(hash.error());
  if (auto added = store.value()->AddDevice(args.id, hash.value(), server::SystemClock().NowMs()); !added.ok()) {
    return FailWith(added.error());
  }
  // The token is known only now: the broker's password line is written here
  // (docs/mqtt.md); a running Mosquitto reads it on SIGHUP.
  if (auto credential = broker::AddDeviceCredential(config.value().data_dir, args.id, token.value());
      !credential.ok()) {
    return FailWith(credential.error().WithContext("writing the broker credential"));
  }
  std::fprintf(stderr, "device '%s' registered; its token (shown once, stored only as a hash):\n", args.id.c_str());
  std::printf("%s\n", token.value().c_str());
  return 0;
}

// ---- admin token ----

struct AdminTokenArgs {
  StateArgs state;
  std::string label = "admin";
};

int AdminToken(const AdminTokenArgs& args) {
  auto config = ResolveState(args.state);
  if (!config.ok()) return FailWith(config.error());
  auto store = OpenStateStore(config.value());
  if (!store.ok()) return FailWith(store.error());
  auto token = NewToken("efa_");
  if (!token.ok()) return FailWith(token.error());
  auto hash = common::Sha256Hex(token.value());
  if (!hash.ok()) return FailWith(hash.error());
  if (auto added = store.value()->AddAdminToken(hash.value(), args.label, server::SystemClock().NowMs());
      !added.ok()) {
    return FailWith(added.error());
  }
  std::fprintf(stderr, "admin token '%s' created (shown once, stored only as a hash):\n", args.label.c_str());
  std::printf("%s\n", token.value().c_str());
  return 0;
}

// ---- model publish / sign / verify ----

struct PublishArgs {
  StateArgs state;
  std::string file;
  std::int64_t min_ram_mb = 0;
  std::string min_firmware;
};

int Publish(const PublishArgs& args) {
  auto config = ResolveState(args.state);
  if (!config.ok()) return FailWith(config.error());
  if (!args.min_firmware.empty() && !server::api::IsFirmwareVersion(args.min_firmware)) {
    return Fail("--min-firmware may hold only letters, digits, '.', '-', '+' and '_'.");
  }
  auto bytes = server::ReadArtifactFile(args.file);
  if (!bytes.ok()) return FailWith(bytes.error());
  auto store = OpenStateStore(config.value());
  if (!store.ok()) return FailWith(store.error());
  auto key = server::LoadServerKey(config->data_dir);
  if (!key.ok()) return FailWith(key.error());
  server::SystemClock clock;
  server::Registry registry(*store.value(), config->data_dir, std::move(key).value(), clock, 0);
  auto model = registry.Publish(common::AsBytes(bytes.value()), {args.min_ram_mb, args.min_firmware});
  if (!model.ok()) return FailWith(model.error());
  std::printf("%s\n", server::api::ModelJson(model.value()).dump().c_str());
  return 0;
}

struct SignArgs {
  std::string file;
  std::string data_dir;
  std::string key;
  std::string out;
};

int Sign(const SignArgs& args) {
  if (args.key.empty() == args.data_dir.empty()) return Fail("give exactly one of --data-dir and --key.");
  const fs::path key_path = args.key.empty() ? server::PrivateKeyPath(args.data_dir) : fs::path(args.key);
  auto key = common::ReadPrivateKeyPem(key_path);
  if (!key.ok()) return FailWith(key.error().WithContext("reading " + key_path.string()));
  auto bytes = server::ReadArtifactFile(args.file);
  if (!bytes.ok()) return FailWith(bytes.error());
  auto info = server::InspectArtifact(common::AsBytes(bytes.value()));
  if (!info.ok()) return FailWith(info.error().WithContext(args.file));
  auto sig = common::Sign(key.value(), common::AsBytes(bytes.value()));
  if (!sig.ok()) return FailWith(sig.error());
  auto text = common::Base64Encode(sig.value());
  if (!text.ok()) return FailWith(text.error());
  const std::string out = args.out.empty() ? args.file + ".sig" : args.out;
  if (auto w = common::WriteFileAtomically(out, text.value() + "\n",
                                           fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                               fs::perms::others_read);
      !w.ok()) {
    return FailWith(w.error());
  }
  std::printf("%s\n", text.value().c_str());
  std::fprintf(stderr, "signature of %s (version %lld, sha256 %s) written to %s\n", args.file.c_str(),
               static_cast<long long>(info->version), info->sha256.c_str(), out.c_str());
  return 0;
}

struct VerifyArgs {
  std::string file;
  std::string signature;
  std::string data_dir;
  std::string key;
  std::string sha256;
};

int Verify(const VerifyArgs& args) {
  if (args.key.empty() == args.data_dir.empty()) return Fail("give exactly one of --data-dir and --key.");
  const fs::path key_path = args.key.empty() ? server::PublicKeyPath(args.data_dir) : fs::path(args.key);
  auto key = common::ReadPublicKeyPem(key_path);
  if (!key.ok()) return FailWith(key.error().WithContext("reading " + key_path.string()));
  auto bytes = server::ReadArtifactFile(args.file);
  if (!bytes.ok()) return FailWith(bytes.error());
  auto info = server::InspectArtifact(common::AsBytes(bytes.value()));
  if (!info.ok()) return FailWith(info.error().WithContext(args.file));
  if (!args.sha256.empty() && args.sha256 != info->sha256) {
    return Fail(args.file + " has sha256 " + info->sha256 + ", not " + args.sha256 + ".");
  }
  const std::string sig_path = args.signature.empty() ? args.file + ".sig" : args.signature;
  auto sig_text = common::ReadFile(sig_path, 4096);
  if (!sig_text.ok()) return FailWith(sig_text.error().WithContext("reading " + sig_path));
  std::string text = sig_text.value();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  auto sig = common::Base64Decode(text);
  if (!sig.ok()) return Fail(sig_path + " is not a base64 signature.");
  if (auto v = common::Verify(key.value(), common::AsBytes(bytes.value()), sig.value()); !v.ok()) {
    return Fail("the signature of " + args.file + " does not verify with " + key_path.string() + ".");
  }
  std::printf("ok: %s is model %s version %lld, sha256 %s, signed by %s\n", args.file.c_str(),
              info->model_id.c_str(), static_cast<long long>(info->version), info->sha256.c_str(),
              key_path.c_str());
  return 0;
}

}  // namespace

void AddKeysCommands(CLI::App& app, Action& action) {
  CLI::App* keys = app.add_subcommand("keys", "The server's Ed25519 signing key.");
  keys->require_subcommand(1);
  auto args = std::make_shared<KeysArgs>();
  CLI::App* generate = keys->add_subcommand("generate", "Write a new key pair to DIR/keys/server.key and server.pub.");
  AddStateOptions(generate, args->state);
  generate->add_flag("--force", args->force, "replace an existing key");
  generate->callback([&action, args] { action = [args] { return KeysGenerate(*args); }; });
}

void AddDeviceCommands(CLI::App& app, Action& action) {
  CLI::App* device = app.add_subcommand("device", "Devices known to the server.");
  device->require_subcommand(1);
  auto args = std::make_shared<DeviceAddArgs>();
  CLI::App* add = device->add_subcommand("add", "Register a device and print its token (once).");
  add->add_option("ID", args->id, "device id: letters, digits, - _ . :")->required();
  AddStateOptions(add, args->state);
  add->callback([&action, args] { action = [args] { return DeviceAdd(*args); }; });
}

void AddAdminCommands(CLI::App& app, Action& action) {
  CLI::App* admin = app.add_subcommand("admin", "Administrators of the server.");
  admin->require_subcommand(1);
  auto args = std::make_shared<AdminTokenArgs>();
  CLI::App* token = admin->add_subcommand("token", "Create an admin token and print it (once).");
  AddStateOptions(token, args->state);
  token->add_option("--label", args->label, "a name for the token, for the records")->capture_default_str();
  token->callback([&action, args] { action = [args] { return AdminToken(*args); }; });
}

void AddModelCommands(CLI::App& model, Action& action) {
  auto publish_args = std::make_shared<PublishArgs>();
  CLI::App* publish = model.add_subcommand("publish", "Validate, sign and publish an edge artifact on a data dir.");
  publish->add_option("FILE", publish_args->file, "model artifact (.efm)")->required();
  AddStateOptions(publish, publish_args->state);
  publish->add_option("--min-ram-mb", publish_args->min_ram_mb, "devices need at least this much RAM")
      ->check(CLI::Range(0, 1'000'000'000));
  publish->add_option("--min-firmware", publish_args->min_firmware, "devices need at least this firmware version");
  publish->callback([&action, publish_args] { action = [publish_args] { return Publish(*publish_args); }; });

  auto sign_args = std::make_shared<SignArgs>();
  CLI::App* sign = model.add_subcommand("sign", "Sign an artifact with the server's key (writes FILE.sig, base64).");
  sign->add_option("FILE", sign_args->file, "model artifact (.efm)")->required();
  sign->add_option("--data-dir", sign_args->data_dir, "sign with DIR/keys/server.key");
  sign->add_option("--key", sign_args->key, "sign with this PEM private key");
  sign->add_option("--out", sign_args->out, "signature file (default FILE.sig)");
  sign->callback([&action, sign_args] { action = [sign_args] { return Sign(*sign_args); }; });

  auto verify_args = std::make_shared<VerifyArgs>();
  CLI::App* verify = model.add_subcommand("verify", "Check an artifact, its sha256 and its signature.");
  verify->add_option("FILE", verify_args->file, "model artifact (.efm)")->required();
  verify->add_option("--signature", verify_args->signature, "signature file, base64 (default FILE.sig)");
  verify->add_option("--data-dir", verify_args->data_dir, "verify with DIR/keys/server.pub");
  verify->add_option("--key", verify_args->key, "verify with this PEM public key");
  verify->add_option("--sha256", verify_args->sha256, "the artifact must have this sha256");
  verify->callback([&action, verify_args] { action = [verify_args] { return Verify(*verify_args); }; });
}

}  // namespace edgefleet::cli
