"""A TCP proxy the tests control, to cut an application's connections to a real server (PostgreSQL,
Redis) the way a network fault or a crash would, without touching the server other tests share.

    proxy = FaultProxy("127.0.0.1", 6379).start()   # proxy.port forwards to Redis
    proxy.cut()          # every open connection reset, new ones refused (server crashed, host gone)
    proxy.blackhole()    # connections accepted and open ones kept, but nothing passes (network partition)
    proxy.restore()      # back to forwarding
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.mode = "forward"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self._listener: socket.socket | None = None
        self.port = port
        self._stopped = False

    # --- control ------------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._listen()
        return self

    def cut(self) -> None:
        """Reset every connection and refuse new ones (the port stops listening)."""
        with self._lock:
            self.mode = "cut"
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            listener.close()
        for client, server in pairs:
            _reset(client)
            if server is not None:
                _reset(server)

    def blackhole(self) -> None:
        """Accept connections and keep the open ones, but forward nothing either way."""
        with self._lock:
            was_cut = self._listener is None
            self.mode = "blackhole"
        if was_cut:
            self._listen()

    def restore(self) -> None:
        """Forward again. Connections held during a blackhole are reset (their streams lost bytes)."""
        with self._lock:
            held = self.mode == "blackhole"
            was_cut = self._listener is None
            self.mode = "forward"
            pairs = self._pairs if held else []
            if held:
                self._pairs = []
        for client, server in pairs:
            _reset(client)
            if server is not None:
                _reset(server)
        if was_cut:
            self._listen()

    def stop(self) -> None:
        self._stopped = True
        self.cut()

    # --- plumbing -------------------------------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 5
        while True:
            try:
                listener.bind(("127.0.0.1", self.port))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.port = listener.getsockname()[1]
        listener.listen(128)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped:
            try:
                client, _addr = listener.accept()
            except OSError:
                return  # closed by cut()
            with self._lock:
                mode = self.mode
            if mode == "cut":
                _reset(client)
                continue
            server: socket.socket | None = None
            if mode == "forward":
                try:
                    server = socket.create_connection(self.target, timeout=5)
                except OSError:
                    _reset(client)
                    continue
            with self._lock:
                self._pairs.append((client, server))
            if server is not None:
                threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        sockets = [client, server]
        try:
            while True:
                readable, _w, _x = select.select(sockets, [], [], 0.2)
                with self._lock:
                    mode = self.mode
                    alive = any(c is client for c, _s in self._pairs)
                if not alive:
                    return
                if mode == "blackhole":
                    continue  # hold everything: nothing passes
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        raise OSError("closed")
                    (server if sock is client else client).sendall(data)
        except (OSError, ValueError):  # reset by cut(), or closed by the peer
            with self._lock:
                self._pairs = [(c, s) for c, s in self._pairs if c is not client]
            client.close()
            server.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST, as a crashed peer or a firewall would, rather than a polite FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
