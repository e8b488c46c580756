// Boost.JSON, header-only: its implementation is compiled once, here, for every adapter
// that reads JSON (adapters/push, adapters/genesys): the outpost_boost_json library.
#include <boost/json/src.hpp>
