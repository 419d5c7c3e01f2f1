#include "gateway/config/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace gateway::config {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("wagate-config-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path WriteFile(const std::string& text) {
    auto p = dir_ / "wagate.toml";
    std::ofstream(p) << text;
    return p;
  }

  static Effective MustLoad(const Sources& s) {
    auto r = Load(s);
    if (auto* e = std::get_if<Error>(&r)) {
      ADD_FAILURE() << e->message;
      return {};
    }
    return std::get<Effective>(r);
  }
  static std::string MustFail(const Sources& s) {
    auto r = Load(s);
    if (auto* e = std::get_if<Error>(&r)) return e->message;
    ADD_FAILURE() << "expected an error";
    return "";
  }
  static std::string Origin(const Effective& e, const std::string& key) {
    for (const auto& [k, vo] : e.values) {
      if (k == key) return vo.second;
    }
    return "?";
  }

  std::filesystem::path dir_;
};

TEST_F(ConfigTest, DefaultsApplyWithNoSources) {
  auto e = MustLoad({});
  EXPECT_EQ(e.config.listen_host, "127.0.0.1");
  EXPECT_EQ(e.config.listen_port, 8080);
  EXPECT_EQ(e.config.data_dir, "data");
  EXPECT_EQ(e.config.SqlitePath(), std::filesystem::path("data") / "wagate.db");
  EXPECT_EQ(Origin(e, "server.listen"), "default");
}

TEST_F(ConfigTest, PrecedenceIsFlagsOverEnvOverFileOverDefaults) {
  auto file = WriteFile(
      "data_dir = \"/from/file\"\n"
      "[server]\nlisten = \"127.0.0.1:1111\"\nthreads = 3\n"
      "[log]\nlevel = \"debug\"\n");
  Sources s;
  s.file = file;
  s.env = {{"WAGATE_SERVER_LISTEN", "127.0.0.1:2222"}, {"WAGATE_LOG_LEVEL", "warn"},
           {"HOME", "/root"}};
  s.flags = {{"server.listen", "127.0.0.1:3333"}};
  auto e = MustLoad(s);
  EXPECT_EQ(e.config.listen_port, 3333);           // flag beats env and file
  EXPECT_EQ(Origin(e, "server.listen"), "flag");
  EXPECT_EQ(e.config.log_level, "warn");           // env beats file
  EXPECT_EQ(Origin(e, "log.level"), "env");
  EXPECT_EQ(e.config.data_dir, "/from/file");      // file beats default
  EXPECT_EQ(e.config.threads, 3);
  EXPECT_EQ(Origin(e, "server.shutdown_timeout_ms"), "default");
}

TEST_F(ConfigTest, ConfigFileCanComeFromEnvironment) {
  auto file = WriteFile("[store]\nthreads = 7\n");
  Sources s;
  s.env = {{"WAGATE_CONFIG", file.string()}};
  EXPECT_EQ(MustLoad(s).config.store_threads, 7);
}

TEST_F(ConfigTest, UnknownFileKeyIsNamed) {
  Sources s;
  s.file = WriteFile("[server]\nlisten = \"127.0.0.1:1\"\nlistn = \"x\"\n");
  auto msg = MustFail(s);
  EXPECT_NE(msg.find("unknown key 'server.listn'"), std::string::npos) << msg;
}

TEST_F(ConfigTest, UnknownEnvironmentVariableIsNamed) {
  Sources s;
  s.env = {{"WAGATE_SERVR_LISTEN", "x"}};
  auto msg = MustFail(s);
  EXPECT_NE(msg.find("WAGATE_SERVR_LISTEN"), std::string::npos) << msg;
}

TEST_F(ConfigTest, UnknownFlagKeyIsNamed) {
  Sources s;
  s.flags = {{"nope", "1"}};
  EXPECT_NE(MustFail(s).find("unknown key 'nope'"), std::string::npos);
}

TEST_F(ConfigTest, BadValuesNameTheKeyAndTheExpectedForm) {
  struct Case {
    std::string key, value, expect;
  } cases[] = {
      {"server.listen", "8080", "expected host:port"},
      {"server.listen", "127.0.0.1:70000", "expected host:port"},
      {"server.listen", "example.com:80", "expected host:port"},
      {"server.listen", "::1:80", "expected host:port"},
      {"server.threads", "-1", "expected an integer from 0 to 256"},
      {"server.threads", "two", "expected an integer"},
      {"log.format", "xml", "expected text or json"},
      {"log.level", "loud", "expected one of"},
      {"security.master_key", "abcd", "expected 64 hex digits"},
      {"data_dir", "", "expected a non-empty path"},
  };
  for (const auto& c : cases) {
    Sources s;
    s.flags = {{c.key, c.value}};
    auto msg = MustFail(s);
    EXPECT_NE(msg.find(c.key), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST_F(ConfigTest, BadValueFromEnvironmentSaysWhere) {
  Sources s;
  s.env = {{"WAGATE_SERVER_THREADS", "lots"}};
  auto msg = MustFail(s);
  EXPECT_NE(msg.find("from WAGATE_SERVER_THREADS"), std::string::npos) << msg;
}

TEST_F(ConfigTest, WrongTomlTypeIsAnError) {
  Sources s;
  s.file = WriteFile("[server]\nthreads = \"four\"\n");
  auto msg = MustFail(s);
  EXPECT_NE(msg.find("server.threads"), std::string::npos) << msg;
  s.file = WriteFile("[server]\nlisten = 80\n");
  msg = MustFail(s);
  EXPECT_NE(msg.find("server.listen"), std::string::npos) << msg;
}

TEST_F(ConfigTest, MalformedTomlReportsLine) {
  Sources s;
  s.file = WriteFile("[server\nlisten = 1\n");
  auto msg = MustFail(s);
  EXPECT_NE(msg.find("wagate.toml:1:"), std::string::npos) << msg;
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  Sources s;
  s.file = dir_ / "absent.toml";
  EXPECT_NE(MustFail(s).find("absent.toml"), std::string::npos);
}

TEST_F(ConfigTest, ListenAcceptsIpv6AndLocalhost) {
  Sources s;
  s.flags = {{"server.listen", "[::1]:0"}};
  auto e = MustLoad(s);
  EXPECT_EQ(e.config.listen_host, "::1");
  EXPECT_EQ(e.config.listen_port, 0);
  s.flags = {{"server.listen", "localhost:9"}};
  EXPECT_EQ(MustLoad(s).config.listen_host, "127.0.0.1");
}

TEST_F(ConfigTest, PrintMasksSecretsAndShowsOrigins) {
  Sources s;
  s.flags = {{"security.master_key", std::string(64, 'a')}, {"log.format", "json"}};
  auto e = MustLoad(s);
  EXPECT_EQ(e.config.master_key_hex, std::string(64, 'a'));
  auto text = Print(e);
  EXPECT_EQ(text.find(std::string(64, 'a')), std::string::npos) << text;
  EXPECT_NE(text.find("master_key = \"********\"  # flag"), std::string::npos) << text;
  EXPECT_NE(text.find("format = \"json\"  # flag"), std::string::npos) << text;
  EXPECT_NE(text.find("[server]"), std::string::npos) << text;
  // The printed configuration is itself a valid file that loads to the same values (secrets
  // aside).
  s = {};
  s.file = WriteFile(text.substr(0, text.find("[security]")));
  auto again = MustLoad(s);
  EXPECT_EQ(again.config.log_format, base::LogFormat::kJson);
}

}  // namespace
}  // namespace gateway::config
