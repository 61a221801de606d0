#pragma once
/// The framing toolkit: pure, incremental codecs for device protocols, CRCs, and the adapters
/// that put them on a transport (FramedProtocol) or a stream (FramedStream).

#include <ferry/crc.hpp>
#include <ferry/framing/cobs_codec.hpp>
#include <ferry/framing/crc_codec.hpp>
#include <ferry/framing/fixed_length_codec.hpp>
#include <ferry/framing/frame_sink.hpp>
#include <ferry/framing/idle_gap_codec.hpp>
#include <ferry/framing/length_field_codec.hpp>
#include <ferry/framing/line_codec.hpp>
#include <ferry/framing/netstring_codec.hpp>
#include <ferry/framing/slip_codec.hpp>
