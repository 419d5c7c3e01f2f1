// Public ids of stored objects: a type prefix ("acc_", "key_", "ses_") and base32 characters.
//
// NewId: 20 random characters (100 bits), so an id reveals neither counts nor creation order.
// NewOrderedId, for the rows written at the message rate (messages, events, webhook
// deliveries): the creation time in milliseconds (10 characters, in an alphabet whose ASCII
// order is its numeric order) then 16 random characters (80 bits). Their unique indexes then
// grow at their right edge: a batch of rows touches a page or two of each index instead of one
// page per row, which is what a commit writes to the WAL and a checkpoint copies back. They
// reveal when the object was created, which the object shows anyway; never a count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace gateway::store {

std::string NewId(std::string_view prefix);
std::string NewOrderedId(std::string_view prefix);
// The same with a given time (tests).
std::string NewOrderedId(std::string_view prefix, std::int64_t unix_ms);

}  // namespace gateway::store
