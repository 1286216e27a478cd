"""A hostile HTTP server for the backend client's tests, run as its own process (issue 15).

    python -m tests.protocol.hostile_http_server MODE

Listens on 127.0.0.1 (a free port, printed as the first line on stdout) and answers every
request according to MODE:
- drip: a valid 200 head, then the JSON body one byte every 0.2 s (each read is well inside the
  client's read timeout; only a deadline on the whole reply ends it);
- huge: a 200 with a 64 MiB body sent as fast as the socket takes it;
- nested: a 200 whose body is "[" 200 000 deep;
- stall: a 200 head promising 100 bytes, then nothing.
"""

from __future__ import annotations

import socket
import sys
import threading
import time

BODY = b'{"match": true}'


def _serve(conn: socket.socket, mode: str) -> None:
    with conn:
        conn.settimeout(30)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        # The whole request, body included: closing a socket with unread bytes sends a reset, which
        # can destroy the reply still on its way to the client (a flaky "unreachable" in the tests).
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk
        try:
            if mode == "drip":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % (len(BODY) * 40))
                for byte in (b" " * (len(BODY) * 39) + BODY):
                    conn.sendall(bytes((byte,)))
                    time.sleep(0.2)
            elif mode == "huge":
                size = 64 << 20
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
                block = b" " * 65536
                for _ in range(size // len(block)):
                    conn.sendall(block)
            elif mode == "nested":
                body = b"[" * 200_000 + b"]" * 200_000
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                             % len(body) + body)
            elif mode == "stall":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
                time.sleep(30)
            # Half-close, then let the client read to the end and close first (no reset either way).
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        except OSError:
            pass  # the client gave up and closed: that is what the tests want to see


def main() -> None:
    mode = sys.argv[1]
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
