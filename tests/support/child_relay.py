#!/usr/bin/python3
"""The contract suite's child process (tests/support/contract_endpoint_posix.cpp): relays
between its stdin/stdout and the Unix socket named by its argument, passing each direction's
end on at once (the socket's end of data closes stdout; stdin's end shuts the socket's sending
side), and exits once both directions have ended, or on SIGTERM."""
import os
import selectors
import socket
import sys

peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
peer.connect(sys.argv[1])
selector = selectors.DefaultSelector()
selector.register(0, selectors.EVENT_READ, "stdin")
selector.register(peer, selectors.EVENT_READ, "peer")
directions = 2
while directions:
    for key, _ in selector.select():
        if key.data == "stdin":
            data = os.read(0, 65536)
            if data:
                peer.sendall(data)
            else:
                peer.shutdown(socket.SHUT_WR)
                selector.unregister(0)
                directions -= 1
        else:
            data = peer.recv(65536)
            if data:
                view = memoryview(data)
                while view:
                    view = view[os.write(1, view):]
            else:
                os.close(1)
                selector.unregister(peer)
                directions -= 1
