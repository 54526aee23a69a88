"""The runner's reading of rsync's and ssh's output (the real processes are in test_sync.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nasync import rsync
from nasync.config import NasConfig

CONFIG = NasConfig(
    host="nas.example",
    user="sync",
    path="/volume1/factures",
    port=2222,
    ssh_key="/keys/nas key",
    known_hosts="/etc/hub/known hosts",
    strict_host_key=True,
    connect_timeout=15,
    io_timeout=300,
    bwlimit="",
)
SOURCE = Path("/media/documents")


def classify(exit_code: int, *lines: str):
    return rsync.classify(CONFIG, exit_code, list(lines))


@pytest.mark.parametrize(
    ("exit_code", "lines", "code", "params"),
    [
        (
            255,
            ["sync@nas.example: Permission denied (publickey,password)."],
            "permission_denied",
            {"reason": "Permission denied (publickey,password)"},
        ),
        (
            255,
            ["Connection timed out during banner exchange", "Connection to 1.2.3.4 port 22 timed out"],
            "timeout",
            {"seconds": 15},
        ),
        (
            12,
            ["ssh: connect to host nas.example port 2222: Connection refused"],
            "unreachable",
            {"reason": "connect to host nas.example port 2222: Connection refused"},
        ),
        (
            255,
            ["ssh: Could not resolve hostname nas.example: Name or service not known"],
            "unreachable",
            {"reason": "Could not resolve hostname nas.example: Name or service not known"},
        ),
        (255, ["Host key verification failed."], "host_key", {"host": "nas.example"}),
        (12, ["bash: line 1: rsync: command not found"], "remote_rsync_missing", {}),
        (
            11,
            ['rsync: [Receiver] mkdir "/volume1/factures/." failed: No such file or directory (2)'],
            "path_missing",
            {"path": "/volume1/factures"},
        ),
        (
            11,
            ['rsync: [receiver] write failed on "/volume1/factures/2026/x.pdf": No space left on device (28)'],
            "disk_full",
            {},
        ),
        (30, ["[sender] io timeout after 300 seconds -- exiting"], "io_timeout", {"seconds": 300}),
        (
            12,
            ["Connection to nas.example closed by remote host.", "rsync: connection unexpectedly closed"],
            "connection_lost",
            {"code": 12},
        ),
        (
            2,
            ["rsync: on remote machine: --secluded-args: unknown option"],
            "rsync_error",
            {"code": 2, "reason": "on remote machine: --secluded-args: unknown option"},
        ),
        (255, ['Load key "/keys/nas key": bad permissions'], "key_unprotected", {}),
    ],
)
def test_ssh_and_rsync_failures_become_problems(exit_code, lines, code, params):
    problem = classify(exit_code, *lines)
    assert (problem.code, problem.params) == (code, params)
    assert "/keys/nas key" not in problem.english()


def test_complete_exits_are_never_run_problems_whatever_the_file_names_say():
    line = 'rsync: [sender] link_stat "/media/documents/2026/Connection timed out Permission denied (publickey).pdf" failed'
    assert classify(23, line) is None and classify(0) is None and classify(24, line) is None


def test_a_killed_transfer_is_a_timeout():
    assert rsync.classify(CONFIG, -9, [], timed_out=True).code == "timeout"


def test_per_file_output_and_errors_are_mapped_to_their_documents():
    result = rsync.PushResult(23)
    stdout = (
        b"@@hub-nas@@ cd+++++++++ 0 2026/\n"
        b"@@hub-nas@@ <f+++++++++ 1234 2026/11/23/sent.pdf\n"
        b"@@hub-nas@@ .f          0 2026/11/23/same.pdf\n"
        b"@@hub-nas@@ <f+++++++++ 99 2026/11/23/fa\\#303\\#247ade \\#134#041.pdf\n"
        b"created directory something\n"
    )
    rsync._read_output(result, stdout)
    assert result.sent == {"2026/11/23/sent.pdf": 1234, "2026/11/23/fa\u00e7ade \\#041.pdf": 99}
    assert result.unchanged == {"2026/11/23/same.pdf"}
    relpaths = {
        "2026/11/23/sent.pdf",
        "2026/11/23/same.pdf",
        "2026/11/23/gone.pdf",
        "2026/11/23/tmp.pdf",
        "2026/11/24/a.pdf",
        "2026/11/24/b.pdf",
        "2026/11/25/c.pdf",
        "2026/11/25/renamed.pdf",
    }
    rsync._read_errors(
        result,
        [
            'rsync: [sender] link_stat "/media/documents/2026/11/23/gone.pdf" failed: No such file or directory (2)',
            'rsync: [receiver] mkstemp "/volume1/factures/2026/11/23/.tmp.pdf.AbC123" failed: Permission denied (13)',
            'rsync: [generator] recv_generator: mkdir "/volume1/factures/./2026/11/24" failed: Permission denied (13)',
            "*** Skipping any contents from this failed directory ***",
            'rsync: [generator] failed to set times on "/volume1/factures/2026/11/23/sent.pdf": Operation not permitted',
            'rsync: [receiver] rename "/volume1/factures/2026/11/25/.renamed.pdf.x1Y2z3" -> "2026/11/25/renamed.pdf": '
            "Permission denied (13)",
            "could not make way for new regular file: 2026/11/25/c.pdf",
            "rsync error: some files/attrs were not transferred (see previous errors) (code 23) at main.c(1394)",
        ],
        relpaths,
        SOURCE,
        CONFIG,
    )
    assert set(result.file_errors) == {
        "2026/11/23/gone.pdf",
        "2026/11/23/tmp.pdf",
        "2026/11/24/a.pdf",
        "2026/11/24/b.pdf",
        "2026/11/25/c.pdf",
        "2026/11/25/renamed.pdf",
    }
    assert result.file_errors["2026/11/23/gone.pdf"].startswith("[sender] link_stat")
    assert len(result.warnings) == 1 and "failed to set times" in result.warnings[0]
    assert result.arrived("2026/11/23/sent.pdf") and result.arrived("2026/11/23/same.pdf")
    assert not result.arrived("2026/11/23/gone.pdf") and not result.arrived("2026/11/25/renamed.pdf")


def test_nothing_counts_as_arrived_after_an_abnormal_exit():
    result = rsync.PushResult(12, sent={"a.pdf": 1}, problem=classify(12, "rsync: connection unexpectedly closed"))
    assert not result.complete and not result.arrived("a.pdf")


def test_the_ssh_command_quotes_paths_and_never_a_shell_metacharacter_unquoted():
    import shlex

    tricky = NasConfig(**{**CONFIG.__dict__, "ssh_key": "/keys/it's; rm -rf ~ %d", "strict_host_key": False})
    command = rsync.ssh_command(tricky)
    words = shlex.split(command)
    assert words[words.index("-i") + 1] == "/keys/it's; rm -rf ~ %%d"
    assert 'UserKnownHostsFile="/etc/hub/known hosts"' in words
    assert "StrictHostKeyChecking=accept-new" in words and "-p" in words and "2222" in words
    assert tricky.remote == "sync@nas.example:/volume1/factures/."


def test_invalid_settings_are_refused_before_any_command(settings):
    from nasync.config import load_config

    settings.NAS_HOST, settings.NAS_USER, settings.NAS_PATH = "nas.example", "sync", "/volume1/factures"
    for name, value in [
        ("NAS_HOST", "-oProxyCommand=id"),
        ("NAS_HOST", "a b"),
        ("NAS_USER", "-l root"),
        ("NAS_PATH", "/a\nb"),
        ("NAS_PORT", 70000),
        ("NAS_BWLIMIT", "1; id"),
        ("NAS_SSH_KEY", "relative/key"),
    ]:
        original = getattr(settings, name)
        setattr(settings, name, value)
        problem = load_config().problem()
        assert problem is not None and problem.code == "invalid_config" and problem.params == {"setting": name}
        setattr(settings, name, original)
    settings.NAS_HOST = "fe80::1"
    assert load_config().remote.startswith("sync@[fe80::1]:")
