#include "agent/inventory.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMiB = uint64_t{1} << 20;

// The system, the disk and the attribute file, as a test sets them.
class FakeInventorySource final : public InventorySource {
 public:
  protocol::Inventory System() override {
    protocol::Inventory inv;
    inv.os = "linux";
    inv.os_version = "Debian GNU/Linux 12 (bookworm)";
    inv.arch = "aarch64";
    inv.agent_version = std::string(kAgentVersion);
    return inv;
  }
  Result<uint64_t> FreeDiskBytes() override {
    if (!free) return IoError("statvfs failed");
    return *free;
  }
  bool HasAttributesFile() const override { return has_file; }
  Result<int64_t> AttributesMtime() override {
    if (!file) return NotFound("no file");
    return mtime;
  }
  Result<std::string> ReadAttributes() override {
    ++reads;
    if (!file) return NotFound("no file");
    return *file;
  }
  void Write(std::string text) {
    file = std::move(text);
    ++mtime;
  }

  std::optional<uint64_t> free = 10 * kGiB;
  bool has_file = true;
  std::optional<std::string> file = std::string(R"({"site":"lyon"})");
  int64_t mtime = 1;
  int reads = 0;
};

class InventoryReporterTest : public ::testing::Test {
 protected:
  // One heartbeat that got a 200: what it carried, if anything.
  std::optional<protocol::Inventory> Beat() {
    auto inv = reporter.Next();
    if (inv) reporter.Acknowledged(*inv);
    return inv;
  }

  FakeInventorySource source;
  std::vector<std::string> logged;
  InventoryReporter reporter{source, [this](const std::string& l) { logged.push_back(l); }};
};

TEST_F(InventoryReporterTest, SentOnTheFirstHeartbeatThenOnlyWhenChanged) {
  auto first = Beat();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->arch, "aarch64");
  EXPECT_EQ(first->agent_version, "oxide-agent/0.1");
  EXPECT_EQ(first->free_disk_bytes, 10 * kGiB);
  EXPECT_EQ(first->attributes.at("site"), "lyon");
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Beat().has_value());
  EXPECT_EQ(source.reads, 1);  // the file is re-read only when its mtime changes
}

TEST_F(InventoryReporterTest, ResentUntilAHeartbeatCarryingItIsAcknowledged) {
  ASSERT_TRUE(reporter.Next().has_value());  // that heartbeat failed: no Acknowledged
  ASSERT_TRUE(reporter.Next().has_value());
  EXPECT_TRUE(Beat().has_value());
  EXPECT_FALSE(Beat().has_value());
}

TEST_F(InventoryReporterTest, FreeDiskOnlyWhenItMovedFivePercentOr64MiB) {
  ASSERT_TRUE(Beat().has_value());
  source.free = 10 * kGiB - 63 * kMiB;  // 0.6 %, under 64 MiB
  EXPECT_FALSE(Beat().has_value());
  source.free = 10 * kGiB - 64 * kMiB;  // drift counts from what was last sent
  auto moved = Beat();
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->free_disk_bytes, 10 * kGiB - 64 * kMiB);
  EXPECT_FALSE(Beat().has_value());
  // A small disk: 5 % is less than 64 MiB.
  source.free = 100 * kMiB;
  ASSERT_TRUE(Beat().has_value());
  source.free = 96 * kMiB;  // 4 %
  EXPECT_FALSE(Beat().has_value());
  source.free = 95 * kMiB;  // 5 %
  EXPECT_TRUE(Beat().has_value());
  source.free.reset();  // statvfs fails: unknown is a change too
  auto unknown = Beat();
  ASSERT_TRUE(unknown.has_value());
  EXPECT_FALSE(unknown->free_disk_bytes.has_value());
  EXPECT_FALSE(Beat().has_value());
}

TEST_F(InventoryReporterTest, AnotherChangeCarriesTheCurrentFreeDisk) {
  ASSERT_TRUE(Beat().has_value());
  source.free = 10 * kGiB - kMiB;
  source.Write(R"({"site":"paris"})");
  auto sent = Beat();
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->attributes.at("site"), "paris");
  EXPECT_EQ(sent->free_disk_bytes, 10 * kGiB - kMiB);
}

TEST_F(InventoryReporterTest, AttributeFileIsReReadWhenItsMtimeChanges) {
  ASSERT_TRUE(Beat().has_value());
  source.Write(R"({"site":"lyon"})");  // touched, same content: re-read, nothing to send
  EXPECT_FALSE(Beat().has_value());
  EXPECT_EQ(source.reads, 2);
  source.Write(R"({"site":"lyon","rack":"3"})");
  auto sent = Beat();
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->attributes.size(), 2u);
}

TEST_F(InventoryReporterTest, BadFileKeepsTheLastGoodAttributesAndIsLoggedOnce) {
  ASSERT_TRUE(Beat().has_value());
  source.Write("{not json");
  EXPECT_FALSE(Beat().has_value());
  EXPECT_FALSE(Beat().has_value());
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("inventory file"), std::string::npos);
  EXPECT_EQ(source.reads, 2);
  source.Write(R"({"site":"paris"})");
  EXPECT_EQ(Beat()->attributes.at("site"), "paris");
}

TEST_F(InventoryReporterTest, RemovedFileClearsTheAttributes) {
  ASSERT_TRUE(Beat().has_value());
  source.file.reset();
  auto sent = Beat();
  ASSERT_TRUE(sent.has_value());
  EXPECT_TRUE(sent->attributes.empty());
  EXPECT_FALSE(Beat().has_value());
  source.Write(R"({"site":"lyon"})");
  EXPECT_EQ(Beat()->attributes.at("site"), "lyon");
}

TEST_F(InventoryReporterTest, LoadRefusesABadFileAtStart) {
  FakeInventorySource bad;
  bad.file = R"({"site":3})";
  InventoryReporter r(bad, [](const std::string&) {});
  EXPECT_STATUS(r.Load(), ErrorCode::kInvalidArgument);
  FakeInventorySource missing;
  missing.file.reset();
  InventoryReporter m(missing, [](const std::string&) {});
  EXPECT_STATUS(m.Load(), ErrorCode::kNotFound);
  FakeInventorySource none;
  none.has_file = false;
  InventoryReporter n(none, [](const std::string&) {});
  EXPECT_OK(n.Load());
  EXPECT_TRUE(n.Next()->attributes.empty());
}

TEST(PosixInventorySource, ReportsThisSystem) {
  PosixInventorySource source("/", "");
  auto inv = source.System();
  EXPECT_EQ(inv.os, "linux");
  EXPECT_FALSE(inv.arch.empty());
  EXPECT_FALSE(inv.os_version.empty());
  EXPECT_OK(protocol::ValidateInventory(inv));
  EXPECT_OK(source.FreeDiskBytes().status());
  EXPECT_FALSE(source.HasAttributesFile());
}

}  // namespace
}  // namespace oxide::agent
