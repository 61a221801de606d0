// The programs serial_bench compares, each written the way its library is meant to be used.
#include "serial_contenders.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <vector>

#include <asio.hpp>
#include <uv.h>

#include <ferry/loop.hpp>
#include <ferry/serial.hpp>

namespace bench {
namespace {

constexpr std::size_t chunk = 64 * 1024;

/// What every raw contender does to the port: what ferry does on open, minus the extras
/// (no flock, no TIOCEXCL), so the comparison favours the raw loops if anything.
int open_raw_port(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        throw std::runtime_error("cannot open " + path);
    }
    termios t{};
    ::tcgetattr(fd, &t);
    ::cfmakeraw(&t);
    ::cfsetspeed(&t, B115200);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    ::tcsetattr(fd, TCSANOW, &t);
    return fd;
}

const std::vector<char>& send_block() {
    static const std::vector<char> block(chunk, 'x');
    return block;
}

} // namespace

void serial_raw_epoll(const SerialRun& run) {
    const int fd = open_raw_port(run.path);
    const int ep = ::epoll_create1(EPOLL_CLOEXEC);
    epoll_event interest{};
    interest.events = run.job == SerialJob::send ? EPOLLOUT : EPOLLIN;
    interest.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &interest);
    std::array<char, chunk> buffer;
    std::size_t done = 0;
    while (done < run.amount) {
        epoll_event event{};
        if (::epoll_wait(ep, &event, 1, -1) <= 0) {
            continue;
        }
        if (run.job == SerialJob::send) {
            while (done < run.amount) {
                const std::size_t want = std::min(chunk, run.amount - done);
                const ssize_t n = ::write(fd, send_block().data(), want);
                if (n <= 0) {
                    break;
                }
                done += static_cast<std::size_t>(n);
            }
            continue;
        }
        for (;;) {
            // A tty with VMIN = VTIME = 0 answers "nothing yet" with 0, not EAGAIN.
            const ssize_t n = ::read(fd, buffer.data(), buffer.size());
            if (n <= 0) {
                break;
            }
            if (run.job == SerialJob::echo) {
                ssize_t written = 0;
                while (written < n) {
                    const ssize_t w = ::write(fd, buffer.data() + written, n - written);
                    if (w > 0) {
                        written += w;
                    }
                }
            }
            done += static_cast<std::size_t>(n);
        }
    }
    ::close(ep);
    ::close(fd);
}

namespace {

/// State of the raw libuv contender.
struct UvPollState {
    const SerialRun* run;
    int fd;
    std::size_t done = 0;
    std::array<char, chunk> buffer;
};

void on_uv_poll(uv_poll_t* handle, int status, int) {
    auto& s = *static_cast<UvPollState*>(handle->data);
    if (status < 0) {
        uv_poll_stop(handle);
        return;
    }
    if (s.run->job == SerialJob::send) {
        while (s.done < s.run->amount) {
            const std::size_t want = std::min(chunk, s.run->amount - s.done);
            const ssize_t n = ::write(s.fd, send_block().data(), want);
            if (n <= 0) {
                break;
            }
            s.done += static_cast<std::size_t>(n);
        }
    } else {
        for (;;) {
            const ssize_t n = ::read(s.fd, s.buffer.data(), s.buffer.size());
            if (n <= 0) {
                break;
            }
            if (s.run->job == SerialJob::echo) {
                ssize_t written = 0;
                while (written < n) {
                    const ssize_t w = ::write(s.fd, s.buffer.data() + written, n - written);
                    if (w > 0) {
                        written += w;
                    }
                }
            }
            s.done += static_cast<std::size_t>(n);
        }
    }
    if (s.done >= s.run->amount) {
        uv_poll_stop(handle);
    }
}

} // namespace

void serial_raw_uv_poll(const SerialRun& run) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    UvPollState state{&run, open_raw_port(run.path), 0, {}};
    uv_poll_t poll;
    uv_poll_init(&loop, &poll, state.fd);
    poll.data = &state;
    uv_poll_start(&poll, run.job == SerialJob::send ? UV_WRITABLE : UV_READABLE, on_uv_poll);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll), nullptr);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ::close(state.fd);
}

namespace {

/// ferry's contender: a Protocol that counts, echoes or refills.
class BenchProtocol final : public ferry::Protocol {
public:
    BenchProtocol(ferry::Loop& loop, const SerialRun& run) : loop_(loop), run_(run) {}
    void connection_made(ferry::Transport& transport) override {
        transport_ = &transport;
        if (run_.job == SerialJob::send) {
            // Limits 0 / 0: pause_writing as soon as anything is queued, resume_writing once the
            // queue is empty. Refilling then keeps the driver full as the raw loops do, with
            // ferry's queue holding at most one block.
            transport.set_write_buffer_limits(0, 0);
            refill();
        }
    }
    void data_received(ferry::ByteView data) override {
        if (run_.job == SerialJob::echo) {
            transport_->write(data);
        }
        done_ += data.size();
        if (done_ >= run_.amount) {
            loop_.stop();
        }
    }
    void pause_writing() override { paused_ = true; }
    void resume_writing() override {
        paused_ = false;
        refill();
    }

private:
    void refill() {
        while (done_ < run_.amount && !paused_) {
            const std::size_t want = std::min(chunk, run_.amount - done_);
            transport_->write(ferry::ByteView(send_block().data(), want));
            done_ += want;
        }
        if (done_ >= run_.amount && !paused_) {
            loop_.stop(); // everything written and nothing queued
        }
    }

    ferry::Loop& loop_;
    const SerialRun& run_;
    ferry::Transport* transport_ = nullptr;
    std::size_t done_ = 0;
    bool paused_ = false;
};

} // namespace

void serial_ferry(const SerialRun& run) {
    ferry::Loop loop;
    ferry::SerialOptions options;
    options.baud_rate = 115200;
    auto port =
        ferry::create_serial_connection(
            loop, [&] { return std::make_unique<BenchProtocol>(loop, run); }, run.path, options)
            .value();
    loop.run();
    port->close();
    loop.close();
}

namespace {

/// Asio's contender: async_read_some -> (async_write) -> read again.
struct AsioSerial {
    asio::serial_port& port;
    const SerialRun& run;
    std::size_t done = 0;
    std::array<char, chunk> buffer;

    void read() {
        port.async_read_some(asio::buffer(buffer), [this](std::error_code ec, std::size_t n) {
            if (ec) {
                return;
            }
            done += n;
            if (run.job == SerialJob::echo) {
                asio::async_write(port, asio::buffer(buffer.data(), n),
                                  [this](std::error_code e, std::size_t) {
                                      if (!e && done < run.amount) {
                                          read();
                                      }
                                  });
            } else if (done < run.amount) {
                read();
            }
        });
    }
    void write() {
        const std::size_t want = std::min(chunk, run.amount - done);
        asio::async_write(port, asio::buffer(send_block().data(), want),
                          [this, want](std::error_code ec, std::size_t) {
                              done += want;
                              if (!ec && done < run.amount) {
                                  write();
                              }
                          });
    }
};

} // namespace

void serial_asio(const SerialRun& run) {
    asio::io_context io(1);
    asio::serial_port port(io, run.path);
    port.set_option(asio::serial_port::baud_rate(115200));
    port.set_option(asio::serial_port::character_size(8));
    port.set_option(asio::serial_port::parity(asio::serial_port::parity::none));
    port.set_option(asio::serial_port::stop_bits(asio::serial_port::stop_bits::one));
    port.set_option(asio::serial_port::flow_control(asio::serial_port::flow_control::none));
    AsioSerial state{port, run, 0, {}};
    if (run.job == SerialJob::send) {
        state.write();
    } else {
        state.read();
    }
    io.run();
}

} // namespace bench
