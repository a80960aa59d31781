"""asyncio (or, with --uvloop, uvloop) Protocol echo server for the benchmark.

Prints `listening on PORT`. Flow control as the project's EchoServer does it:
pause reading while the transport's write buffer is over its high-water mark.
"""
import asyncio
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    print("listening on", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


if "--uvloop" in sys.argv:
    import uvloop
    uvloop.install()
asyncio.run(main())
