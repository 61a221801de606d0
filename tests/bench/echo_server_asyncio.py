"""echo_bench's Python asyncio echo server: `echo_server_asyncio.py [CERT KEY]`.

A Protocol echo as an asyncio user writes it (data_received -> write, pause_writing ->
pause_reading), over TLS when given a certificate and key. Prints its port as one line and
serves until SIGTERM, like the other echo_bench servers."""

import asyncio
import signal
import ssl
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        # The same high-water mark as every echo_bench server (echo_server.hpp).
        transport.set_write_buffer_limits(high=64 * 1024)

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def main():
    context = None
    if len(sys.argv) > 2:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    server = await loop.create_server(Echo, "127.0.0.1", 0, ssl=context, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await stop.wait()
    server.close()


asyncio.run(main())
