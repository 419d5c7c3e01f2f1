// Public ids of stored objects: a type prefix ("acc_", "key_", "ses_") and 20 base32 characters
// (100 random bits), so ids never reveal counts or creation order.
#pragma once

#include <string>
#include <string_view>

namespace gateway::store {

std::string NewId(std::string_view prefix);

}  // namespace gateway::store
