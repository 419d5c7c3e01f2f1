// wagate: the gateway's command line. Parses arguments and hands over to gateway::app.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include "gateway/app/app.h"
#include "gateway/config/config.h"

namespace {

struct ConfigFlags {
  std::string file;
  std::string listen, data_dir, log_level, log_format;
  std::vector<std::string> sets;

  void AddTo(CLI::App* cmd) {
    cmd->add_option("-c,--config", file, "TOML configuration file (or WAGATE_CONFIG)");
    cmd->add_option("--listen", listen, "server.listen: address:port of the HTTP API");
    cmd->add_option("--data-dir", data_dir, "data_dir: folder for the database and keys");
    cmd->add_option("--log-level", log_level, "log.level: trace, debug, info, warn, error, off");
    cmd->add_option("--log-format", log_format, "log.format: text or json");
    cmd->add_option("--set", sets, "any configuration key: --set key=value (repeatable)");
  }

  // nullopt after printing the error line.
  std::optional<gateway::config::Effective> Load() const {
    gateway::config::Sources sources;
    if (!file.empty()) sources.file = file;
    sources.env = gateway::config::ProcessEnvironment();
    for (const auto& kv : sets) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "wagate: --set expects key=value, got '%s'\n", kv.c_str());
        return std::nullopt;
      }
      sources.flags.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    if (!listen.empty()) sources.flags.emplace_back("server.listen", listen);
    if (!data_dir.empty()) sources.flags.emplace_back("data_dir", data_dir);
    if (!log_level.empty()) sources.flags.emplace_back("log.level", log_level);
    if (!log_format.empty()) sources.flags.emplace_back("log.format", log_format);
    auto loaded = gateway::config::Load(sources);
    if (auto* err = std::get_if<gateway::config::Error>(&loaded)) {
      std::fprintf(stderr, "wagate: %s\n", err->message.c_str());
      return std::nullopt;
    }
    return std::get<gateway::config::Effective>(std::move(loaded));
  }
};

std::string KeysHelp() {
  std::string out = "\nConfiguration keys (TOML name / environment variable):\n";
  for (const auto& k : gateway::config::Keys()) {
    out += "  " + k.name + " / " + k.env + "\n      " + k.help +
           (k.default_value.empty() ? "" : " [default: " + k.default_value + "]") + "\n";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"wagate: a self-hostable, multi-tenant WhatsApp gateway"};
  app.require_subcommand(1);
  app.footer(KeysHelp());

  ConfigFlags serve_flags;
  bool print_config = false;
  auto* serve = app.add_subcommand("serve", "serve the HTTP API until SIGINT/SIGTERM");
  serve_flags.AddTo(serve);
  bool sandbox_default = false;
  serve->add_flag("--sandbox", sandbox_default,
                  "new sessions link to the sandbox (sandbox.default=1) unless they say otherwise; "
                  "without sandbox.chat_url, wagate starts its own wasim");
  serve->add_flag("--print-config", print_config,
                  "print the effective configuration (secrets masked) and exit");

  ConfigFlags migrate_flags;
  auto* migrate = app.add_subcommand("migrate", "apply pending database migrations and exit");
  migrate_flags.AddTo(migrate);

  auto* version = app.add_subcommand("version", "print the version");

  ConfigFlags admin_flags;
  std::string admin_account;
  auto* admin = app.add_subcommand("admin", "operator commands");
  admin->require_subcommand(1);
  auto* suspend = admin->add_subcommand("suspend", "stop an account's sessions and refuse its keys");
  auto* unsuspend = admin->add_subcommand("unsuspend", "lift a suspension");
  for (auto* cmd : {suspend, unsuspend}) {
    admin_flags.AddTo(cmd);
    cmd->add_option("account", admin_account, "account id (acc_...)")->required();
  }

  CLI11_PARSE(app, argc, argv);

  if (*version) {
    std::printf("wagate %s\n", WA_VERSION);
    return 0;
  }
  if (*serve) {
    if (sandbox_default) {
      serve_flags.sets.push_back("sandbox.default=1");
      // With no sandbox.chat_url configured, wagate starts the wasim beside it.
      serve_flags.sets.push_back("sandbox.wasim=auto");
    }
    auto eff = serve_flags.Load();
    if (!eff) return 2;
    if (print_config) {
      std::fputs(gateway::config::Print(*eff).c_str(), stdout);
      return 0;
    }
    return gateway::app::Serve(eff->config);
  }
  if (*admin) {
    auto eff = admin_flags.Load();
    if (!eff) return 2;
    return gateway::app::AdminSetSuspended(eff->config, admin_account, suspend->parsed());
  }
  if (*migrate) {
    auto eff = migrate_flags.Load();
    if (!eff) return 2;
    return gateway::app::Migrate(eff->config);
  }
  return 2;
}
