"""Every shell example of the README and docs/ runs as written against a hub set up as `make demo`
sets it up: the embedded mode (SQLite, in-process tasks) in a temporary VAR_DIR, the shop simulator
with 200 products, `manage.py demo_setup`, uvicorn. The examples' ```sh blocks of one page run in
order in one bash, as a reader pastes them into one terminal; the README first, then the pages in
the site's order. Examples reach the hub at $HUB and the simulator at $SHOP, each defaulting to
`make demo`'s address (`HUB=${HUB:-http://127.0.0.1:8000}`), which this test points at its own.
A ```console block is shown, never run (production commands, make targets)."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FENCE_OPEN = re.compile(r"^```sh\s*$")
FENCE_CLOSE = re.compile(r"^```\s*$")
# A failing command inside a ```sh block: bash's ERR trap reports the script line and, inside a
# function, the lines it was called from; the first of them that is a page's line names the example.
FAILURE = re.compile(r"^EXAMPLE FAILED at script lines ([\d ]+)$", re.M)
STARTED = re.compile(r"^EXAMPLE STARTS (\S+)$", re.M)
PRELUDE = """\
set -eEo pipefail
trap 'echo "EXAMPLE FAILED at script lines $LINENO ${BASH_LINENO[*]}" >&2' ERR
# An HTTP error from the hub fails the example, unless the example prints the status itself
# (-w '%{http_code}': an expected error); the simulator's answers are the example's business.
curl() {
    local arg hub=""
    for arg in "$@"; do
        case $arg in -w | --write-out) command curl "$@"; return ;; "$HUB"*) hub=1 ;; esac
    done
    if [[ $hub ]]; then command curl --show-error --fail-with-body "$@"; else command curl "$@"; fi
}
"""


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository
    line: int  # the block's first line of code in the page
    code: str


def pages() -> list[Path]:
    """README.md, then the documentation in the site's navigation order."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]

    def walk(entries) -> Iterator[str]:
        for entry in entries:
            value = entry if isinstance(entry, str) else next(iter(entry.values()))
            yield from walk(value) if isinstance(value, list) else [value]

    return [ROOT / "README.md", *(ROOT / "docs" / name for name in walk(nav) if name.endswith(".md"))]


def shell_blocks(page: Path, root: Path = ROOT) -> list[Block]:
    blocks, current, start = [], None, 0
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if current is None and FENCE_OPEN.match(line):
            current, start = [], number + 1
        elif current is not None and FENCE_CLOSE.match(line):
            blocks.append(Block(str(page.relative_to(root)), start, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def script(blocks: list[Block]) -> tuple[str, dict[int, str]]:
    """One bash script of the page's blocks, and where each of its lines comes from."""
    lines, origin = PRELUDE.splitlines(), {}
    for block in blocks:
        lines.append(f"echo 'EXAMPLE STARTS {block.page}:{block.line}' >&2")
        for offset, code in enumerate(block.code.splitlines()):
            lines.append(code)
            origin[len(lines)] = f"{block.page}:{block.line + offset}"
    return "\n".join(lines) + "\n", origin


PAGES_WITH_EXAMPLES = [page for page in pages() if shell_blocks(page)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Demo:
    hub: str
    shop: str
    password: str


def wait_http(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    """`make demo` on free ports: its environment (the embedded mode and the loopback allowlist),
    its simulator, migrate, demo_setup and uvicorn, with everything under a temporary VAR_DIR."""
    var = tmp_path_factory.mktemp("demo-var")
    hub_port, shop_port = free_port(), free_port()
    demo = Demo(f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{shop_port}", secrets.token_urlsafe(12))
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(var)),
        "LANG": "C.UTF-8",
        "VAR_DIR": str(var),
        "PLATFORM_URL_ALLOWLIST": "127.0.0.1,localhost,::1",
        # Each page logs in once; a reader does so minutes apart, this test within a minute,
        # past the 5 logins a minute per user that the hub allows by default.
        "THROTTLE_LOGIN_USER": "100/min",
    }
    logs = {name: (var / f"{name}.log").open("wb") for name in ("shop", "hub")}
    started = []

    def start(name: str, *args: str) -> subprocess.Popen:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=logs[name], stderr=subprocess.STDOUT)
        started.append(process)
        return process

    try:
        shop = start("shop", sys.executable, "-m", "shopsim", "--port", str(shop_port), "--products", "200")
        wait_http(f"{demo.shop}/_sim/stats", shop)
        manage = [sys.executable, "manage.py"]
        for command in (
            [*manage, "migrate", "--noinput"],
            [*manage, "demo_setup", "--shop-url", demo.shop, "--hub-url", demo.hub, "--password", demo.password],
        ):
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
        hub = start(
            "hub", sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
            "--port", str(hub_port), "--lifespan", "off",
        )  # fmt: skip
        wait_http(f"{demo.hub}/healthz", hub)
        yield demo
    finally:
        for process in reversed(started):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs.values():
            log.close()


def run_examples(blocks: list[Block], env: dict[str, str], stdin: str, timeout: float = 120) -> str | None:
    """Runs a page's blocks in one bash; None, or what failed and where."""
    code, origin = script(blocks)
    # A session of its own: a block that hangs is killed with whatever it started.
    bash = subprocess.Popen(
        ["bash", "-c", code],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = bash.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(bash.pid, signal.SIGKILL)
        stdout, stderr = bash.communicate()
        started = STARTED.findall(stderr)
        return f"The example at {started[-1] if started else 'an unknown line'} did not finish within {timeout} s."
    result = subprocess.CompletedProcess(bash.args, bash.returncode, stdout, stderr)
    if result.returncode == 0:
        return None
    failed = FAILURE.search(result.stderr)
    lines = [int(number) for number in failed.group(1).split()] if failed else []
    where = next((origin[line] for line in lines if line in origin), "an unknown line")
    return (
        f"The example at {where} failed (exit {result.returncode}).\n"
        f"--- stdout (last 3000 characters)\n{result.stdout[-3000:]}\n"
        f"--- stderr (last 3000 characters)\n{result.stderr[-3000:]}"
    )


def shell_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    home = os.environ.get("HOME", str(tmp_path))
    return {"PATH": os.environ["PATH"], "HOME": home, "LANG": "C.UTF-8", "TMPDIR": str(tmp_path), **extra}


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda page: str(page.relative_to(ROOT)))
def test_the_examples_run_as_written(page: Path, demo: Demo, tmp_path):
    env = shell_env(tmp_path, HUB=demo.hub, SHOP=demo.shop)
    failure = run_examples(shell_blocks(page), env, stdin=f"{demo.password}\n" * 20)  # each `read PASSWORD`
    if failure:
        pytest.fail(failure)


def test_a_failing_example_names_its_page_and_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n```sh\nread -r PASSWORD\n```\n\n```console\nfalse\n```\n\n"
        '```sh\necho "$PASSWORD"\nfalse\necho never\n```\n'
    )
    blocks = shell_blocks(page, root=tmp_path)
    assert [(block.line, block.code) for block in blocks] == [
        (4, "read -r PASSWORD"),
        (12, 'echo "$PASSWORD"\nfalse\necho never'),
    ]
    failure = run_examples(blocks, shell_env(tmp_path, HUB="http://127.0.0.1:9"), stdin="s3cret\n")
    assert failure is not None and failure.startswith("The example at page.md:13 failed (exit 1).")
    assert "s3cret" in failure and "never" not in failure


def test_an_http_error_from_the_hub_fails_the_example(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        hub = f"http://127.0.0.1:{server.getsockname()[1]}"
        answer = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"

        def serve():
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(answer)

        threading.Thread(target=serve, daemon=True).start()
        failure = run_examples([Block("page.md", 7, 'curl -s "$HUB/api/v1/stores/"')], shell_env(tmp_path, HUB=hub), "")
    assert failure is not None and failure.startswith("The example at page.md:7 failed (exit 22).")


def test_a_hanging_example_is_killed_and_named(tmp_path):
    blocks = [Block("page.md", 3, "true"), Block("page.md", 9, "sleep 600 &\nwait")]
    assert run_examples(blocks, shell_env(tmp_path), "", timeout=2) == (
        "The example at page.md:9 did not finish within 2 s."
    )
