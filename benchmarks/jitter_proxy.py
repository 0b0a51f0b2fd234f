"""A TCP proxy that holds each request a random 0..D ms on its way in, as an internet path does.

    python benchmarks/jitter_proxy.py --listen 8801 --target 8800 --delay-ms 50 [--seed 1]

Bytes from the client are forwarded after a delay drawn uniformly from 0..D for each chunk read,
in order (a chunk never overtakes the one before it, as on one TCP connection); answers come
back at once. Loopback only; it runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import random


async def pipe_in(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, draw: random.Random
) -> None:
    loop = asyncio.get_running_loop()
    released = 0.0
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def release() -> None:
        while True:
            when, chunk = await queue.get()
            if not chunk:
                writer.close()
                return
            if (left := when - loop.time()) > 0:
                await asyncio.sleep(left)
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.create_task(release())
    try:
        while chunk := await reader.read(65536):
            released = max(released, loop.time() + draw.uniform(0, delay))
            queue.put_nowait((released, chunk))
    except ConnectionError:
        pass
    queue.put_nowait((released, b""))
    await sender


async def pipe_out(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


async def serve(listen: int, target: int, delay: float, seed: int | None) -> None:
    draw = random.Random(seed)

    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(
            pipe_in(client_reader, server_writer, delay, draw),
            pipe_out(server_reader, client_writer),
            return_exceptions=True,
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.target, args.delay_ms / 1000, args.seed))


if __name__ == "__main__":
    main()
