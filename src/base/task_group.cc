#include "base/task_group.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace base {

void TaskGroup::OnException(State& state, std::exception_ptr e) {
  state.failures.fetch_add(1, std::memory_order_relaxed);
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("task group {}: task ended with an exception: {}", state.name, ex.what());
  } catch (...) {
    spdlog::error("task group {}: task ended with an unknown exception", state.name);
  }
}

}  // namespace base
