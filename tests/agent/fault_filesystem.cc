#include "fault_filesystem.h"

#include <set>

namespace edgefleet::ota::testing {
namespace {

using common::Error;
using common::ErrorCode;

std::string Parent(const std::string& path) { return std::filesystem::path(path).parent_path().string(); }

}  // namespace

bool FaultFilesystem::Step() {
  if (dead_) return false;
  if (die_after_) {
    if (*die_after_ == 0) {
      dead_ = true;
      return false;
    }
    --*die_after_;
  }
  ++steps_;
  return true;
}

Expected<void> FaultFilesystem::Dead() const { return Error(ErrorCode::kIo, "simulated crash: the process is gone"); }

std::uint64_t FaultFilesystem::used() const {
  std::set<const Inode*> seen;
  std::uint64_t total = 0;
  for (const auto& [name, inode] : names_) {
    if (seen.insert(inode.get()).second) total += inode->data.size();
  }
  return total;
}

void FaultFilesystem::SimulateCrash() {
  names_ = durable_names_;
  for (auto& [name, inode] : names_) inode->data = inode->synced;
  dead_ = false;
  die_after_.reset();
}

void FaultFilesystem::PutDurable(const std::filesystem::path& path, std::string_view bytes) {
  auto inode = std::make_shared<Inode>();
  inode->data = inode->synced = std::string(bytes);
  names_[path.string()] = inode;
  durable_names_[path.string()] = inode;
}

std::vector<std::string> FaultFilesystem::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, inode] : names_) out.push_back(name);
  return out;
}

Expected<std::string> FaultFilesystem::ReadFile(const std::filesystem::path& path, std::size_t max_bytes) {
  const auto it = names_.find(path.string());
  if (it == names_.end()) return Error(ErrorCode::kNotFound, path.string() + " does not exist");
  if (it->second->data.size() > max_bytes) return Error(ErrorCode::kResourceExhausted, path.string() + " is too large");
  return it->second->data;
}

Expected<std::uint64_t> FaultFilesystem::FileSize(const std::filesystem::path& path) {
  const auto it = names_.find(path.string());
  if (it == names_.end()) return Error(ErrorCode::kNotFound, path.string() + " does not exist");
  return static_cast<std::uint64_t>(it->second->data.size());
}

Expected<void> FaultFilesystem::WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes) {
  const std::string temp = (path.parent_path() / ("." + path.filename().string() + ".tmp." +
                                                  std::to_string(++temp_counter_))).string();
  // 1. create and write the temporary
  if (!Step()) return Dead();
  if (used() + bytes.size() > capacity_) {
    return Error(ErrorCode::kResourceExhausted, "writing " + temp + ": No space left on device");
  }
  auto inode = std::make_shared<Inode>();
  inode->data = std::string(bytes);
  names_[temp] = inode;
  // 2. fsync it
  if (!Step()) return Dead();
  inode->synced = inode->data;
  // 3. rename over the target
  if (!Step()) return Dead();
  names_.erase(temp);
  names_[path.string()] = inode;
  // 4. fsync the directory
  return SyncDir(path.parent_path());
}

Expected<void> FaultFilesystem::WriteAt(const std::filesystem::path& path, std::uint64_t offset,
                                        std::string_view bytes, bool sync) {
  if (!Step()) return Dead();
  auto& inode = names_[path.string()];
  if (!inode) inode = std::make_shared<Inode>();
  if (inode->data.size() < offset) return Error(ErrorCode::kIo, "write past the end of " + path.string());
  inode->data.resize(static_cast<std::size_t>(offset));
  const std::uint64_t room = capacity_ > used() ? capacity_ - used() : 0;
  if (bytes.size() > room) {
    inode->data.append(bytes.substr(0, static_cast<std::size_t>(room)));  // a short write, as the kernel does
    return Error(ErrorCode::kResourceExhausted, "writing " + path.string() + ": No space left on device");
  }
  inode->data.append(bytes);
  if (sync) {
    if (!Step()) return Dead();
    inode->synced = inode->data;
  }
  return common::Ok();
}

Expected<void> FaultFilesystem::Remove(const std::filesystem::path& path) {
  if (names_.count(path.string()) == 0) return common::Ok();
  if (!Step()) return Dead();
  names_.erase(path.string());
  return common::Ok();
}

Expected<void> FaultFilesystem::SyncDir(const std::filesystem::path& dir) {
  if (!Step()) return Dead();
  const std::string d = dir.string();
  for (auto it = durable_names_.begin(); it != durable_names_.end();) {
    it = Parent(it->first) == d ? durable_names_.erase(it) : std::next(it);
  }
  for (const auto& [name, inode] : names_) {
    if (Parent(name) == d) durable_names_[name] = inode;
  }
  return common::Ok();
}

Expected<void> FaultFilesystem::CreateDirectories(const std::filesystem::path&) { return common::Ok(); }

Expected<std::uint64_t> FaultFilesystem::FreeBytes(const std::filesystem::path&) {
  if (reported_free_) return *reported_free_;
  return capacity_ > used() ? capacity_ - used() : 0;
}

}  // namespace edgefleet::ota::testing
