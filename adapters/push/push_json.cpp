// Boost.JSON, header-only: its implementation is compiled once, here, for adapters/push.
#include <boost/json/src.hpp>
