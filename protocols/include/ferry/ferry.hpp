#pragma once
/// Everything ferry offers, in one include.

#include <ferry/address.hpp>
#include <ferry/bytes.hpp>
#include <ferry/error.hpp>
#include <ferry/future.hpp>
#include <ferry/log.hpp>
#include <ferry/loop.hpp>
#include <ferry/pipe.hpp>
#include <ferry/port_watcher.hpp>
#include <ferry/protocol.hpp>
#include <ferry/queue.hpp>
#include <ferry/reconnect.hpp>
#include <ferry/result.hpp>
#include <ferry/serial.hpp>
#include <ferry/serial_ports.hpp>
#include <ferry/server.hpp>
#include <ferry/sleep.hpp>
#include <ferry/streams.hpp>
#include <ferry/sync.hpp>
#include <ferry/task.hpp>
#include <ferry/tcp.hpp>
#include <ferry/transport.hpp>
#include <ferry/unix.hpp>
#include <ferry/wait.hpp>
