#pragma once
/// Everything ferry offers, in one include.

#include <ferry/address.hpp>
#include <ferry/bytes.hpp>
#include <ferry/error.hpp>
#include <ferry/log.hpp>
#include <ferry/loop.hpp>
#include <ferry/pipe.hpp>
#include <ferry/protocol.hpp>
#include <ferry/result.hpp>
#include <ferry/server.hpp>
#include <ferry/tcp.hpp>
#include <ferry/transport.hpp>
#include <ferry/unix.hpp>
