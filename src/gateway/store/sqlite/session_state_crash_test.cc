// Kill-and-restart (STYLE.md, Tests): a child process applies numbered steps to three sessions'
// state and commits each, announcing "A s i" just before Commit and "C s i" once it returned;
// the parent SIGKILLs it at a random moment and reopens the file. Every announced commit must be
// there, a step whose commit was under way may be there (whole), and nothing of a later step,
// whose writes were only in the child's cache, may be. One session wipes itself every ten steps,
// so a Wipe's deletions and the writes after it land together or not at all.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include "gateway/store/sqlite/session_state_test_util.h"

namespace gateway::store::sqlite {
namespace {

namespace asio = boost::asio;
using base::Bytes;
using testing::MasterKey;
using testing::StateTest;
using wa::signal::Address;

constexpr int kSessions = 3;
constexpr int kRounds = 12;
const Address kCounter("counter", 0);
const Address kPoison("poison", 0);

std::string SessionId(int s) { return "crash" + std::to_string(s); }
Address StepAddress(int i) { return Address("u" + std::to_string(i), 1); }
Bytes StepRecord(int s, int i) {
  std::string text = "session " + std::to_string(s) + " step " + std::to_string(i) + ";";
  std::string out;
  while (out.size() < 200) out += text;
  return base::ToBytes(out);
}
wa::signal::Key32 StepIdentity(int s, int i) {
  wa::signal::Key32 key{};
  key[0] = static_cast<std::uint8_t>(s);
  key[1] = static_cast<std::uint8_t>(i);
  key[2] = static_cast<std::uint8_t>(i >> 8);
  return key;
}
bool Wipes(int s, int i) { return s == 2 && i % 10 == 0; }
// The first step whose records survive at step k.
int FirstKept(int s, int k) { return s == 2 && k >= 10 ? k / 10 * 10 : 1; }

void Announce(int fd, char what, int s, int i) {
  std::string line =
      std::string(1, what) + " " + std::to_string(s) + " " + std::to_string(i) + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(4);
}

[[noreturn]] void Fail(int fd, const std::string& what) {
  std::string line = "E " + what + "\n";
  (void)!::write(fd, line.data(), line.size());
  ::_exit(3);
}

int CounterOf(SessionState& state, int fd) {
  auto counter = state.LoadSession(kCounter);
  if (!counter) Fail(fd, "counter: " + counter.error().message());
  return *counter ? std::stoi(std::string(base::AsChars(**counter))) : 0;
}

asio::awaitable<void> Steps(int s, SessionState& state, int fd, std::uint32_t seed) {
  std::mt19937 rng(seed);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  auto loaded = state.Load();
  if (!loaded) Fail(fd, "load: " + loaded.error().message());
  wa::client::Credentials creds = *loaded ? **loaded : wa::client::Credentials::New();
  for (int i = CounterOf(state, fd) + 1;; ++i) {
    if (Wipes(s, i) && !state.Wipe()) Fail(fd, "wipe");
    creds.next_pre_key_id = static_cast<std::uint32_t>(i);
    bool ok = state.Save(creds) && state.StoreSession(StepAddress(i), StepRecord(s, i)) &&
              state.StoreSession(kCounter, base::ToBytes(std::to_string(i))) &&
              state.StorePreKey({static_cast<std::uint32_t>(i), wa::crypto::GenerateKeyPair()}) &&
              (i == 1 || state.RemovePreKey(static_cast<std::uint32_t>(i - 1))) &&
              state.SaveIdentity(StepAddress(i), StepIdentity(s, i)) &&
              state.StoreSenderKey("g@g.us", kCounter, StepRecord(s, i)) &&
              state.StoreSession(kPoison, StepRecord(s, -i)) && state.DeleteSession(kPoison);
    if (!ok) Fail(fd, "write");
    // Linger with the step only in the cache.
    timer.expires_after(std::chrono::microseconds(rng() % 400));
    co_await timer.async_wait(asio::use_awaitable);
    Announce(fd, 'A', s, i);
    auto committed = co_await state.Commit();
    if (!committed) Fail(fd, "commit: " + committed.error().message());
    Announce(fd, 'C', s, i);
  }
}

[[noreturn]] void Child(const std::filesystem::path& db, int fd, std::uint32_t seed) {
  std::string err;
  auto store = SqliteStore::Open({.path = db, .threads = 2}, &err);
  if (!store || !(*store)->Migrate(&err)) Fail(fd, "open: " + err);
  SessionStates states(**store, MasterKey());
  asio::io_context ioc;
  std::vector<std::unique_ptr<SessionState>> open;
  for (int s = 0; s < kSessions; ++s) {
    auto state = testing::RunTask(ioc, states.Open(SessionId(s)));
    if (!state) Fail(fd, "open state: " + state.error().message());
    open.push_back(std::move(*state));
  }
  for (int s = 0; s < kSessions; ++s) {
    asio::co_spawn(ioc, Steps(s, *open[s], fd, seed + s), asio::detached);
  }
  ioc.restart();
  ioc.run();
  Fail(fd, "the steps ended");
}

// Lines from a pipe until EOF.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  bool Next(std::string* line) {
    for (;;) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        *line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return true;
      }
      char chunk[4096];
      ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buffer_;
};

TEST_F(StateTest, SigkillAtRandomMomentsKeepsExactlyTheCommittedSteps) {
  Close();  // no threads in this process while it forks
  std::mt19937 rng(20261125);
  std::array<int, kSessions> durable{};    // steps known to be committed
  std::array<int, kSessions> attempted{};  // the last step whose commit started
  int total_commits = 0, in_flight_kept = 0, in_flight_lost = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::uint32_t child_seed = rng();
    const int target = static_cast<int>(rng() % 40);  // commits to see before the kill
    const auto delay = std::chrono::microseconds(rng() % 3000);
    std::fflush(nullptr);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      Child(db(), fds[1], child_seed);
    }
    ::close(fds[1]);
    LineReader reader(fds[0]);
    int commits = 0;
    bool killed = false;
    auto kill_child = [&] {
      std::this_thread::sleep_for(delay);
      ::kill(pid, SIGKILL);
      killed = true;
    };
    if (target == 0) kill_child();
    std::string line;
    while (reader.Next(&line)) {
      ASSERT_NE(line[0], 'E') << line;
      char what = 0;
      int s = -1, i = -1;
      ASSERT_EQ(std::sscanf(line.c_str(), "%c %d %d", &what, &s, &i), 3) << line;
      ASSERT_TRUE(s >= 0 && s < kSessions) << line;
      if (what == 'A') {
        EXPECT_EQ(i, std::max(durable[s], attempted[s]) + 1) << line;
        attempted[s] = i;
      } else {
        EXPECT_EQ(i, attempted[s]) << line;
        durable[s] = i;
        ++commits;
      }
      if (!killed && commits >= target) kill_child();
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    total_commits += commits;

    Reopen();
    for (int s = 0; s < kSessions; ++s) {
      SCOPED_TRACE("session " + std::to_string(s));
      const std::string sid = SessionId(s);
      auto state = Open(sid);
      ASSERT_TRUE(state);
      auto counter = state->LoadSession(kCounter);
      ASSERT_TRUE(counter);
      const int k = *counter ? std::stoi(std::string(base::AsChars(**counter))) : 0;
      // Every acknowledged step; at most the one whose commit was under way.
      EXPECT_GE(k, durable[s]);
      EXPECT_LE(k, std::max(durable[s], attempted[s]));
      if (k > durable[s]) ++in_flight_kept;
      if (attempted[s] > durable[s] && k == durable[s]) ++in_flight_lost;
      auto rows = [&](const char* table) {
        return Query(std::string("SELECT count(*) FROM ") + table + " WHERE session_id = '" + sid +
                     "'");
      };
      if (k == 0) {
        for (const char* table : {"wa_credentials", "wa_signal_sessions", "wa_prekeys",
                                  "wa_identities", "wa_sender_keys"}) {
          EXPECT_EQ(rows(table), 0) << table;
        }
      } else {
        // Step k whole, and nothing else: the poison record, removed prekeys, wiped rows.
        auto creds = state->Load();
        ASSERT_TRUE(creds && creds->has_value());
        EXPECT_EQ((*creds)->next_pre_key_id, static_cast<std::uint32_t>(k));
        const int first = FirstKept(s, k);
        for (int j = first; j <= k; ++j) {
          EXPECT_EQ(*state->LoadSession(StepAddress(j)), StepRecord(s, j)) << j;
          EXPECT_EQ(*state->GetIdentity(StepAddress(j)), StepIdentity(s, j)) << j;
        }
        EXPECT_EQ(rows("wa_signal_sessions"), k - first + 2);  // the steps kept and the counter
        EXPECT_EQ(rows("wa_identities"), k - first + 1);
        EXPECT_EQ(rows("wa_prekeys"), 1);
        EXPECT_TRUE(state->LoadPreKey(static_cast<std::uint32_t>(k))->has_value());
        EXPECT_EQ(rows("wa_sender_keys"), 1);
        EXPECT_EQ(*state->LoadSenderKey("g@g.us", kCounter), StepRecord(s, k));
        EXPECT_EQ(rows("wa_credentials"), 1);
      }
      durable[s] = attempted[s] = k;  // the next child continues from what is on disk
    }
    Close();
  }
  std::printf("[crash] %d rounds, %d commits acknowledged; commits under way at the kill: %d "
              "found whole, %d found absent\n",
              kRounds, total_commits, in_flight_kept, in_flight_lost);
  EXPECT_GT(total_commits, 0);
}

}  // namespace
}  // namespace gateway::store::sqlite
