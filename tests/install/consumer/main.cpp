// Echoes one message over loopback with an installed ferry; exits 0 on success.
#include <ferry/ferry.hpp>

#include <cstdio>
#include <memory>
#include <string>

namespace {

class Echo : public ferry::Protocol {
public:
    void connection_made(ferry::Transport& t) override { transport_ = &t; }
    void data_received(ferry::ByteView data) override { transport_->write(data); }

private:
    ferry::Transport* transport_ = nullptr;
};

class Client : public ferry::Protocol {
public:
    Client(ferry::Loop& loop, std::string& got) : loop_(loop), got_(got) {}
    void connection_made(ferry::Transport& t) override { t.write("installed ferry works"); }
    void data_received(ferry::ByteView data) override {
        got_.append(data.as_string_view());
        loop_.stop();
    }

private:
    ferry::Loop& loop_;
    std::string& got_;
};

} // namespace

int main() {
    ferry::Loop loop;
    std::string got;
    std::shared_ptr<ferry::Server> server;
    ferry::create_server(
        loop, [] { return std::make_unique<Echo>(); }, "127.0.0.1", 0, {},
        [&](ferry::Result<std::shared_ptr<ferry::Server>> r) {
            server = r.value();
            ferry::create_connection(
                loop, [&] { return std::make_unique<Client>(loop, got); }, "127.0.0.1",
                server->port(), {},
                [](ferry::Result<std::shared_ptr<ferry::Transport>> c) { c.value(); });
        });
    loop.call_later(std::chrono::seconds(10), [&] { loop.stop(); });
    loop.run();
    loop.close();
    std::printf("%s\n", got.c_str());
    return got == "installed ferry works" ? 0 : 1;
}
