"""Configuration contract: what is accepted, and that every refusal names file, path and line."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from op25b.addresses import merge
from op25b.config import load_config
from op25b.errors import ConfigError, ConfigErrors

BASE = """\
table: op25b
relays: [192.0.2.25]
pools:
  - name: ftth-east
    kind: dynamic
    mode: enforce
    prefixes: [198.51.100.0/24, "2001:db8:1000::/40"]
"""


def write(tmp_path, text: str):
    path = tmp_path / "op25b.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path, text: str) -> ConfigError:
    """What `op25b check` refuses: loading plus compiling (pool-level rules live in the compile)."""
    from op25b.reconcile import compile_file

    with pytest.raises(ConfigError) as caught:
        compile_file(str(write(tmp_path, text)))
    return caught.value


def test_the_issue_example_is_valid(tmp_path):
    config = load_config(write(tmp_path, """\
        table: op25b
        action: reject
        blocked_ports: [25]
        submission_ports: [587, 465]
        subscriber_interfaces: []
        relays:
          - 192.0.2.25
          - 2001:db8:25::25
        pools:
          - name: ftth-east
            kind: dynamic
            mode: enforce
            prefixes: [198.51.100.0/24, 2001:db8:1000::/40]
          - name: biz-fixed
            kind: static
            prefixes: [203.0.113.0/26]
        exemptions:
          - prefix: 198.51.100.77/32
            reason: "runs own MTA, ticket 4711"
            expires: 2027-03-31
        """))
    assert [p.name for p in config.pools] == ["ftth-east", "biz-fixed"]
    assert config.exemptions[0].expires == dt.date(2027, 3, 31)
    assert [str(r) for r in config.relays] == ["192.0.2.25/32", "2001:db8:25::25/128"]


def test_bare_off_is_read_as_mode_off(tmp_path):
    config = load_config(write(tmp_path, BASE.replace("mode: enforce", "mode: off")))
    assert config.pools[0].mode == "off"


@pytest.mark.parametrize(
    ("change", "path", "line", "words"),
    [
        (("198.51.100.0/24", "198.51.100.1/24"), "pools[0].prefixes[0]", 7, "host bits set"),
        (("198.51.100.0/24", "198.51.100/24"), "pools[0].prefixes[0]", 7, "not an IPv4 or IPv6 address"),
        (("mode: enforce", "mode: block"), "pools[0].mode", 6, "not one of"),
        (("name: ftth-east", "name: FTTH East"), "pools[0].name", 4, "not a valid name"),
        (("table: op25b", "table: op25b\ncolour: blue"), "colour", 2, "unknown key"),
        (("relays: [192.0.2.25]", "relays: [198.51.100.25]"), "relays[0]", 2, "inside dynamic pool"),
        (("table: op25b", "table: op25b\nblocked_ports: [25, 587]\nsubmission_ports: [465]"),
         "blocked_ports[1]", 2, "RFC 5068"),
        (("table: op25b", "table: op25b\nblocked_ports: [25, 465]\nsubmission_ports: [587]"),
         "blocked_ports[1]", 2, "RFC 8314"),
        (("table: op25b", "table: op25b\nblocked_ports: [25, 2525]\nsubmission_ports: [587, 2525]"),
         "blocked_ports[1]", 2, "both blocked and a submission port"),
        (("table: op25b", "table: op25b\naction: refuse"), "action", 2, "not one of"),
        (("table: op25b", "table: op25b\nmetrics:\n  tls_cert_file: /etc/c.pem"), "metrics", 3, "both tls_cert_file"),
        (("table: op25b", "table: op25b\nmetrics:\n  basic_auth:\n    username: prom"),
         "metrics.basic_auth", 4, "both username and password_file"),
        (("table: op25b", "table: op25b\nsubscriber_interfaces: ['ppp*; drop']"),
         "subscriber_interfaces[0]", 2, "not an interface name"),
    ],
)
def test_refusals_name_path_line_and_problem(tmp_path, change, path, line, words):
    error = error_of(tmp_path, BASE.replace(*change))
    message = str(error)
    assert f"op25b.yaml:{line}: {path}:" in message, message
    assert words in message


def test_duplicate_pool_names_are_refused(tmp_path):
    text = BASE + "  - name: ftth-east\n    kind: static\n    prefixes: [203.0.113.0/26]\n"
    message = str(error_of(tmp_path, text))
    assert "pools[1].name" in message and "used twice" in message


def test_465_may_be_blocked_only_with_the_override_and_a_warning(tmp_path):
    config = load_config(write(tmp_path, "allow_blocking_465: true\nblocked_ports: [25, 465]\n"
                                         "submission_ports: [587]\n" + BASE))
    assert config.blocked_ports == (25, 465)
    assert any("465" in w for w in config.warnings)


def test_all_errors_of_a_file_are_reported_together(tmp_path):
    text = BASE.replace("mode: enforce", "mode: blocked").replace("198.51.100.0/24", "198.51.100.9/24")
    message = str(error_of(tmp_path, text))
    assert "pools[0].mode" in message and "pools[0].prefixes[0]" in message


def test_invalid_yaml_says_where(tmp_path):
    message = str(error_of(tmp_path, "pools: [\n  - name: x\n"))
    assert "op25b.yaml:" in message and "not valid YAML" in message


def test_yaml_tags_cannot_build_objects(tmp_path):
    message = str(error_of(tmp_path, "table: !!python/object/apply:os.system ['true']\n"))
    assert "op25b.yaml:1: table:" in message and "tag" in message and "not allowed" in message


def test_missing_file_gives_a_hint(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.yaml")
    assert "cannot read the configuration" in str(caught.value) and "-c" in str(caught.value)


def test_prefixes_file_errors_name_file_and_line(tmp_path):
    (tmp_path / "east.txt").write_text("# export\n198.51.100.0/25\n198.51.100.300/32\n")
    text = BASE.replace("    prefixes: [198.51.100.0/24, \"2001:db8:1000::/40\"]\n",
                        "    prefixes_file: east.txt\n")
    message = str(error_of(tmp_path, text))
    assert "east.txt:3" in message


def test_prefixes_file_is_read_relative_to_the_config(tmp_path):
    (tmp_path / "east.txt").write_text("198.51.100.0/25  # block A\n\n2001:db8:1000::/40\n")
    text = BASE.replace("    prefixes: [198.51.100.0/24, \"2001:db8:1000::/40\"]\n",
                        "    prefixes_file: east.txt\n")
    pool = load_config(write(tmp_path, text)).pools[0]
    assert pool.intervals == {"ipv4": ((V4_BASE, V4_BASE + 127),), "ipv6": ((V6_BASE, V6_BASE + (1 << 88) - 1),)}
    assert pool.counts == (1, 1)


V4_BASE = int.from_bytes(bytes([198, 51, 100, 0]), "big")
V6_BASE = 0x20010DB8100000000000000000000000


@pytest.mark.parametrize("text", [
    "198.51.100.0/25\n2001:db8:1000::/40\n",  # clean: the C-speed path
    "198.51.100.0/25  # block A\n\n2001:db8:1000::/40\r\n",  # comments, blanks, CRLF: line by line
    "2001:db8:1000::/40\n198.51.100.0/26\n198.51.100.64/26",  # unsorted, adjacent, no final newline
])
def test_both_pool_file_parsers_give_the_same_intervals(tmp_path, text):
    from op25b.sources.prefix_file import _fast, _line_by_line, load_prefixes_file

    path = tmp_path / "pool.txt"
    path.write_text(text, newline="")
    loaded = load_prefixes_file(path)
    assert loaded.intervals == {family: merge(i) for family, i in _line_by_line(path, text).items()}
    assert loaded.intervals["ipv4"] == [(V4_BASE, V4_BASE + 127)]
    assert loaded.counts == (text.count("198.51."), 1)
    if _fast(text) is not None:
        assert _fast(text) == _line_by_line(path, text)


@pytest.mark.parametrize("line, problem", [
    ("198.51.100.1/24", "host bits set"),
    ("198.51.100.0/33", "invalid prefix length"),
    ("198.51.100/24", "not an IPv4 or IPv6 address"),
    ("198.51.100.0/2٤", "invalid prefix length"),  # a non-ASCII digit
    ("198.51.100.0/24/8", "invalid prefix length"),
])
def test_a_bad_line_in_a_clean_pool_file_gets_its_exact_error(tmp_path, line, problem):
    from op25b.sources.prefix_file import load_prefixes_file

    path = tmp_path / "pool.txt"
    path.write_text("198.51.100.128/25\n" + line + "\n2001:db8::/32\n")
    with pytest.raises(ConfigErrors) as caught:
        load_prefixes_file(path)
    message = str(caught.value)
    assert f"{path}:2" in message and problem in message, message


def test_a_bare_address_in_a_pool_file_is_a_host_prefix(tmp_path):
    from op25b.sources.prefix_file import load_prefixes_file

    path = tmp_path / "pool.txt"
    path.write_text("198.51.100.7\n2001:db8::1\n")
    assert load_prefixes_file(path).intervals == {"ipv4": [(V4_BASE + 7, V4_BASE + 7)],
                                                  "ipv6": [(0x20010DB8 << 96 | 1,) * 2]}


def test_event_loader_and_composer_agree_on_values_and_lines():
    """yamlnodes reads from parser events (fast) and falls back to the composer for anchors;
    both must give the same values and the same path → line index."""
    from pathlib import Path

    import yaml

    from op25b import yamlnodes

    root = Path(__file__).parent.parent.parent
    files = [root / "examples" / "op25b.yaml", *sorted((root / "tests" / "data").rglob("*.yaml"))]
    assert len(files) >= 5
    for file in files:
        text = file.read_text()
        fast = yamlnodes._from_events(str(file), text)
        lines: dict[str, int] = {}
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        slow = yamlnodes._walk(node, "", lines, yaml.SafeLoader(""), str(file))
        assert fast.value == slow and fast._lines == lines, file


def test_anchors_fall_back_to_the_composer(tmp_path):
    text = """\
        pools:
          - name: east
            kind: dynamic
            prefixes: [198.51.100.0/25]
        exemptions:
          - prefix: 198.51.100.7/32
            reason: &why "own MTA"
          - prefix: 198.51.100.9/32
            reason: *why
        """
    config = load_config(write(tmp_path, text))
    assert [e.reason for e in config.exemptions] == ["own MTA", "own MTA"]
    message = str(error_of(tmp_path, text.replace("198.51.100.9/32", "198.51.100.9/24")))
    assert "op25b.yaml:8: exemptions[1].prefix:" in message and "host bits" in message


EXEMPTIONS_FILE = """\
# prefix              expires      reason
198.51.100.77         -            own MTA, ticket #4411
2001:db8:1000::/48    2027-03-31   customer relay
198.51.100.80/30      2020-01-01

"""


def test_exemptions_file_adds_to_the_yaml_list(tmp_path):
    (tmp_path / "exempt.txt").write_text(EXEMPTIONS_FILE)
    text = BASE + "exemptions_file: exempt.txt\nexemptions:\n  - {prefix: 198.51.100.9, reason: inline}\n"
    config = load_config(write(tmp_path, text))
    got = [(str(e.prefix), e.reason, e.expires) for e in config.exemptions]
    assert got == [("198.51.100.9/32", "inline", None),
                   ("198.51.100.77/32", "own MTA, ticket #4411", None),
                   ("2001:db8:1000::/48", "customer relay", dt.date(2027, 3, 31)),
                   ("198.51.100.80/30", "", dt.date(2020, 1, 1))]


@pytest.mark.parametrize("line, problem", [
    ("198.51.100.77", "expiry field is missing"),
    ("198.51.100.77 2027-02-30 x", "'2027-02-30' is not a date"),
    ("198.51.100.77 20270301 x", "'20270301' is not a date"),
    ("198.51.100.1/24 - x", "host bits set"),
    ("nonsense - x", "not an IPv4 or IPv6 address"),
])
def test_a_bad_exemptions_file_line_is_reported_with_its_line(tmp_path, line, problem):
    (tmp_path / "exempt.txt").write_text("198.51.100.70 - fine\n" + line + "\n")
    with pytest.raises(ConfigErrors) as caught:
        load_config(write(tmp_path, BASE + "exemptions_file: exempt.txt\n"))
    message = str(caught.value)
    assert "exempt.txt:2" in message and problem in message and "PREFIX EXPIRES REASON" in message, message
