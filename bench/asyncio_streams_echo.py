"""asyncio streams echo server for the benchmark, the anchor of the streams
row: `read(65536)`, `write`, `await drain()` until EOF.

Prints `listening on PORT`.
"""
import asyncio


async def echo(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    print("listening on", server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
