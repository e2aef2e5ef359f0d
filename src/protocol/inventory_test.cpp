#include "protocol/inventory.hpp"

#include <gtest/gtest.h>

#include "protocol/heartbeat.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::protocol {
namespace {

Inventory Sample() {
  Inventory inv;
  inv.os = "linux";
  inv.os_version = "Debian GNU/Linux 12 (bookworm)";
  inv.arch = "aarch64";
  inv.agent_version = "oxide-agent/0.1";
  inv.free_disk_bytes = 123456789;
  inv.attributes = {{"site", "lyon"}, {"camera", "imx477"}};
  return inv;
}

Result<HeartbeatRequest> ParseWithInventory(const std::string& inventory_json) {
  return ParseHeartbeatRequest(R"({"status":"online","inventory":)" + inventory_json + "}");
}

TEST(Inventory, RoundTripsThroughTheHeartbeat) {
  HeartbeatRequest r;
  r.inventory = Sample();
  auto back = ParseHeartbeatRequest(ToJson(r));
  ASSERT_OK(back.status());
  ASSERT_TRUE(back->inventory.has_value());
  EXPECT_EQ(*back->inventory, Sample());
}

TEST(Inventory, AbsentWhenNotSentAndFreeDiskOptional) {
  auto none = ParseHeartbeatRequest(R"({"status":"online"})");
  ASSERT_OK(none.status());
  EXPECT_FALSE(none->inventory.has_value());
  EXPECT_EQ(ToJson(HeartbeatRequest{}).find("inventory"), std::string::npos);
  auto partial = ParseWithInventory(R"({"os":"linux"})");
  ASSERT_OK(partial.status());
  EXPECT_EQ(partial->inventory->os, "linux");
  EXPECT_FALSE(partial->inventory->free_disk_bytes.has_value());
  EXPECT_TRUE(partial->inventory->attributes.empty());
}

TEST(Inventory, RejectsWrongTypes) {
  for (const char* bad :
       {R"("linux")", R"({"os":5})", R"({"free_disk_bytes":-1})", R"({"free_disk_bytes":"9"})",
        R"({"attributes":[]})", R"({"attributes":{"k":1}})", R"({"attributes":{"k":null}})"}) {
    EXPECT_STATUS(ParseWithInventory(bad).status(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(Inventory, EnforcesTheTagLimits) {
  std::string many = "{";
  for (size_t i = 0; i <= kMaxInventoryAttributes; ++i) {
    many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
  }
  many += "}";
  auto too_many = ParseWithInventory(R"({"attributes":)" + many + "}");
  EXPECT_STATUS(too_many.status(), ErrorCode::kInvalidArgument);
  EXPECT_NE(too_many.status().message().find("at most 64"), std::string::npos);
  std::string long_key(kMaxInventoryKeyBytes + 1, 'k');
  EXPECT_STATUS(ParseWithInventory(R"({"attributes":{")" + long_key + R"(":"v"}})").status(),
                ErrorCode::kInvalidArgument);
  std::string long_value(kMaxInventoryValueBytes + 1, 'v');
  EXPECT_STATUS(ParseWithInventory(R"({"attributes":{"k":")" + long_value + R"("}})").status(),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ParseWithInventory(R"({"os":")" + long_value + R"("})").status(),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ParseWithInventory(R"({"attributes":{"":"v"}})").status(),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ParseWithInventory(R"({"attributes":{"a\nb":"v"}})").status(),
                ErrorCode::kInvalidArgument);
  // At the limits exactly: accepted.
  std::string max_key(kMaxInventoryKeyBytes, 'k');
  std::string max_value(kMaxInventoryValueBytes, 'v');
  EXPECT_OK(ParseWithInventory(R"({"attributes":{")" + max_key + R"(":")" + max_value + R"("}})")
                .status());
}

TEST(Inventory, AttributesFileIsAFlatStringObject) {
  auto ok = ParseInventoryAttributes(R"({"site":"lyon","rack":"3"})");
  ASSERT_OK(ok.status());
  EXPECT_EQ(ok->at("rack"), "3");
  EXPECT_STATUS(ParseInventoryAttributes("{").status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ParseInventoryAttributes(R"(["a"])").status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ParseInventoryAttributes(R"({"a":{"b":"c"}})").status(),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ParseInventoryAttributes(R"({"a":3})").status(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace oxide::protocol
