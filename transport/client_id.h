// A new replica's client id, from the operating system's randomness. The engine draws no
// randomness (ReplicaOptions::client_id is required when a file is created): the device
// runtime and the CLI make the id here; the simulator derives its ids from its seed.
// Thread rules: a plain function, safe from any thread.
#pragma once

#include <string>

namespace outpost {

// 32 lowercase hex digits (128 bits from the OpenSSL CSPRNG, which the OS seeds).
// Falls back to std::random_device if the CSPRNG is unavailable.
std::string new_client_id();

}  // namespace outpost
