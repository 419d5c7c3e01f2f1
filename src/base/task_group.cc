#include "base/task_group.h"

#include <spdlog/spdlog.h>

#include "base/log.h"

namespace base {

void TaskGroup::OnException(State& state, std::exception_ptr e) {
  state.failures.fetch_add(1, std::memory_order_relaxed);
  spdlog::error("task group {}: task ended with an exception: {}", state.name, ExceptionText(e));
}

}  // namespace base
