#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "protocol/inventory.hpp"

namespace oxide::agent {

// What the agent reports as its own version (heartbeat agent_version and inventory).
inline constexpr std::string_view kAgentVersion = "oxide-agent/0.1";

// Where the device's inventory comes from: the system (PosixInventorySource) or a test fake.
class InventorySource {
 public:
  virtual ~InventorySource() = default;
  // os, os_version, arch and agent_version; asked once per agent run (they do not change
  // without a restart).
  virtual protocol::Inventory System() = 0;
  // Free bytes of the model directory's file system; an error when unknown.
  virtual Result<uint64_t> FreeDiskBytes() = 0;
  // Whether an --inventory-file was given at all.
  virtual bool HasAttributesFile() const = 0;
  // The file's modification time (ns since the epoch); kNotFound when it does not exist.
  virtual Result<int64_t> AttributesMtime() = 0;
  virtual Result<std::string> ReadAttributes() = 0;
};

// The real source: uname(2), /etc/os-release, statvfs(3) of `model_dir`, and `inventory_file`
// (may be empty: no custom attributes).
class PosixInventorySource final : public InventorySource {
 public:
  PosixInventorySource(std::string model_dir, std::string inventory_file)
      : model_dir_(std::move(model_dir)), inventory_file_(std::move(inventory_file)) {}
  protocol::Inventory System() override;
  Result<uint64_t> FreeDiskBytes() override;
  bool HasAttributesFile() const override { return !inventory_file_.empty(); }
  Result<int64_t> AttributesMtime() override;
  Result<std::string> ReadAttributes() override;

 private:
  std::string model_dir_;
  std::string inventory_file_;
};

// Decides which heartbeats carry the inventory. Bytes cost money on many devices' links, so it
// goes on the first heartbeat after start and then only when it changed since the last one the
// server acknowledged: a field or an attribute, or free disk that moved by at least
// kDiskStepPercent % or kDiskStepBytes. The attribute file is re-read when its modification
// time changes; a file that does not parse keeps the last good attributes (logged once per
// change). Not thread-safe (the agent loop's thread only). `source` must outlive it.
class InventoryReporter {
 public:
  static constexpr uint64_t kDiskStepBytes = uint64_t{64} << 20;
  static constexpr uint64_t kDiskStepPercent = 5;

  InventoryReporter(InventorySource& source, std::function<void(const std::string&)> log);

  // The inventory the next heartbeat carries, or nullopt when nothing worth sending changed.
  std::optional<protocol::Inventory> Next();
  // A heartbeat carrying `sent` was answered 200: later ones compare against it.
  void Acknowledged(const protocol::Inventory& sent);

  // Reads and checks the attribute file now (the agent refuses to start with a bad one).
  Status Load();

 private:
  Status RefreshAttributes();
  bool DiskMoved(const std::optional<uint64_t>& before, const std::optional<uint64_t>& now) const;

  InventorySource& source_;
  std::function<void(const std::string&)> log_;
  protocol::Inventory system_;
  std::map<std::string, std::string> attributes_;
  std::optional<int64_t> attributes_mtime_;  // of the version read (or refused); none: absent
  std::optional<protocol::Inventory> acknowledged_;
};

}  // namespace oxide::agent
