"""A real OpenAI-style `/chat/completions` server on 127.0.0.1 for judge tests (no mocks)."""

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# reply(request_json, authorization_header, request_number) -> (status, body, delay_s) or (status, body, delay_s,
# headers); a delay longer than the client's timeout plays a server that accepts the connection and never answers.
Reply = Callable[[dict, str, int], tuple]


def completion(content: str | list | None, finish_reason: str = "stop") -> str:
    """A chat-completion body whose message content is `content` (text, None, or a list of parts)."""
    message = {"role": "assistant", "content": content}
    return json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]})


def parts(*pieces: tuple[str, str]) -> list[dict]:
    """Content as a list of typed parts, as reasoning APIs send it: parts(("thinking", "..."), ("text", "yes"))."""
    return [{"type": kind, kind: text} for kind, text in pieces]


# Bodies that are not chat completions, each a way real endpoints and proxies fail.
NOT_COMPLETIONS = {
    "html": "<html><body><h1>502 Bad Gateway</h1></body></html>",
    "non-json": "upstream connect error",
    "no-choices": json.dumps({"id": "x", "object": "chat.completion"}),
    "empty-choices": json.dumps({"choices": []}),
    "error-object": json.dumps({"error": {"message": "model overloaded", "type": "server_error"}}),
    "content-number": json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": 7}}]}),
}


def user_text(request: dict) -> str:
    return next(m["content"] for m in request["messages"] if m["role"] == "user")


@contextmanager
def serve(reply: Reply) -> Iterator[tuple[str, dict]]:
    """Run an OpenAI-style /chat/completions server on an ephemeral loopback port; yield (base_url, stats)."""
    stats = {"posts": 0, "gets": 0, "requests": []}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def _send(self, status: int, body: str, headers: dict | None = None) -> None:
            try:
                data = body.encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout tests)
                pass

        def do_GET(self):
            with lock:
                stats["gets"] += 1
            ok = self.path.endswith("/models")
            self._send(200 if ok else 404, json.dumps({"data": []}))

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                stats["posts"] += 1
                n = stats["posts"]
                stats["requests"].append((self.path, request))
            if not self.path.endswith("/chat/completions"):
                self._send(404, "{}")
                return
            status, body, delay, *headers = reply(request, self.headers.get("Authorization", ""), n)
            time.sleep(delay)
            self._send(status, body, *headers)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads, server.block_on_close = True, False  # a hanging reply must not hold up the test's end
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", stats
    finally:
        server.shutdown()
        server.server_close()
