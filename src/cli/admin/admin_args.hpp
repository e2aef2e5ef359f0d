#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace oxide::cli::admin {

// Every admin command (`oxide device|fleet|model|campaign|deploy|token ...`): one enum value
// each, picked by the CLI11 layer (admin_cli.cpp), dispatched by RunAdminCommand.
enum class AdminCommand {
  kDeviceList,
  kDeviceShow,
  kDeviceAccept,
  kDeviceReject,
  kDeviceRemove,
  kDeviceTag,
  kFleetCreate,
  kFleetList,
  kFleetShow,
  kFleetAdd,
  kFleetRemove,
  kModelPush,
  kModelList,
  kModelShow,
  kModelGolden,
  kCampaignCreate,
  kCampaignList,
  kCampaignShow,
  kCampaignWatch,
  kCampaignPause,
  kCampaignResume,
  kCampaignAbort,
  kCampaignApprove,
  kDeploy,
  kTokenCreate,
  kTokenList,
  kTokenRevoke,
};

// Where the server and the credentials come from, as given on the command line (empty: not
// given). ResolveAdminConfig (admin_client.hpp) applies the environment and the config file.
struct AdminFlags {
  std::string server;
  std::string token_file;
  std::string ca_file;
  std::string config;  // --config FILE
  bool json = false;   // print the server's JSON instead of tables
};

// The options of `campaign create` (and of `deploy`, which creates one).
struct CampaignSpec {
  std::string model, version, fleet;
  std::string strategy = "all-at-once";  // all-at-once | canary | rolling
  int canary_percent = -1;               // -1: the server's default
  int batch_size = -1;
  int failure_threshold_count = -1;
  int failure_threshold_percent = -1;
  std::vector<std::string> tags;   // "k=v"
  std::vector<std::string> attrs;  // "k=v" (inventory attributes)
  bool require_approval = false;
  // Roll out a version whose model signature changed (the server refuses it otherwise).
  bool allow_signature_change = false;
};

struct AdminArgs {
  AdminCommand command = AdminCommand::kDeviceList;
  AdminFlags flags;
  std::string id;                 // device, fleet, model, campaign or token id
  std::vector<std::string> ids;   // fleet add/remove: device ids
  std::string name, description;  // fleet create; token create (name)
  std::string role = "viewer";    // token create
  std::string file;               // model push, deploy
  std::string model, version;     // model push, deploy
  bool no_wait = false;           // model push, deploy: do not wait for the patches
  bool remove = false;            // model golden --remove
  int wait_seconds = 120;
  bool watch = false;  // deploy --watch
  // device tag: KEY=VALUE to set, keys to remove, and whether to start from no tags.
  std::vector<std::string> set_tags;
  std::vector<std::string> remove_tags;
  bool clear_tags = false;
  CampaignSpec campaign;
};

}  // namespace oxide::cli::admin
