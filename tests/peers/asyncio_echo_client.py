"""The seed's asyncio echo client, for interop tests: host and port from argv."""
import asyncio
import logging
import sys

MESSAGES = [b"This is the message. ", b"It will be sent ", b"in parts."]

logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s", stream=sys.stderr)
log = logging.getLogger("main")


class EchoClient(asyncio.Protocol):
    def __init__(self, messages, future):
        super().__init__()
        self.messages = messages
        self.log = logging.getLogger("EchoClient")
        self.f = future

    def connection_made(self, transport):
        self.transport = transport
        self.address = transport.get_extra_info("peername")
        self.log.debug("connecting to {} port {}".format(*self.address[:2]))
        for msg in self.messages:
            transport.write(msg)
            self.log.debug("sending {!r}".format(msg))
        if transport.can_write_eof():
            transport.write_eof()

    def data_received(self, data):
        self.log.debug("received {!r}".format(data))

    def eof_received(self):
        self.log.debug("received EOF")
        self.transport.close()
        if not self.f.done():
            self.f.set_result(True)

    def connection_lost(self, exc):
        self.log.debug("server closed connection")
        self.transport.close()
        if not self.f.done():
            self.f.set_result(True)
        super().connection_lost(exc)


async def main(host, port):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    log.debug("waiting for client to complete")
    try:
        await loop.create_connection(lambda: EchoClient(MESSAGES, done), host, port)
        await done
    finally:
        log.debug("closing event loop")


asyncio.run(main(sys.argv[1], int(sys.argv[2])))
