"""lint(): hadolint's findings come through with their codes, each platform rule fires on a
crafted file at the right line, and nothing makes it raise."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from applications.dockerfiles import lint, parse

from .conftest import ALLOWED, GOOD


def run(text, **kwargs):
    return lint.lint(text, allowed=ALLOWED, **kwargs)


def codes(findings):
    return {(f.line, f.code, f.severity) for f in findings}


def test_a_good_dockerfile_is_clean_even_in_prod():
    findings = run(GOOD, environment_kind="prod")
    assert [f for f in findings if f.severity != "info"] == []
    assert lint.status_of(findings) == "ok"


def test_hadolint_findings_keep_their_codes():
    findings = run("FROM ubuntu:latest\nUSER 10001\n")
    assert (1, "DL3007", "warning") in codes(findings)
    hadolint = [f for f in findings if f.code == "DL3007"][0]
    assert hadolint.source == "hadolint" and "latest" in hadolint.message


@pytest.mark.parametrize(("text", "line", "code", "severity"), [
    ("FROM platform/jre:latest\nUSER 1\n", 1, "platform.base-latest", "error"),
    ("FROM platform/jre\nUSER 1\n", 1, "platform.base-untagged", "error"),
    ("FROM platform/jre:17\nUSER 1\nFROM docker.io/library/alpine:3.20\nUSER 1\n", 3, "platform.base-not-allowed",
     "warning"),
    ("FROM platform/jre:17\nCOPY a /a\n", 1, "platform.user-missing", "error"),
    ("FROM platform/jre:17\nUSER app\nUSER root\n", 3, "platform.user-root", "error"),
    ("FROM platform/jre:17\nUSER 0:0\n", 2, "platform.user-root", "error"),
    ("FROM platform/jre:17\nUSER 1\n", 1, "platform.healthcheck-missing", "warning"),
    ("FROM platform/jre:17\nHEALTHCHECK NONE\nUSER 1\n", 2, "platform.healthcheck-missing", "warning"),
    ("FROM platform/jre:17\n\nRUN echo hi\nUSER 1\n", 3, "platform.run-needs-buildah", "error"),
    ("FROM platform/jre:17\nONBUILD COPY a /a\nUSER 1\n", 2, "platform.instruction-unsupported", "error"),
    ("FROM platform/jre:17 AS b\nFROM platform/jre:17\nCOPY --from=b /a /a\nUSER 1\n", 3, "platform.copy-from",
     "error"),
    ("FROM platform/jre:17\nADD site.tar.gz /srv/\nUSER 1\n", 2, "platform.add-archive", "error"),
    ("FROM platform/jre:17\nADD https://example.com/x.jar /app/\nUSER 1\n", 2, "platform.add-url", "error"),
    ("FROM platform/jre:17\nUSER 1\nFROOM x\n", 3, "parse", "error"),
    ("FROM platform/jre:17\nUSER\n", 2, "parse", "error"),
    ("COPY a /a\nFROM platform/jre:17\nUSER 1\n", 1, "parse", "error"),
    ("FROM platform/jre:17\nUSER 1\nCOPY a \\\n", 3, "parse", "error"),
    ("# nothing here\n", 1, "parse", "error"),
])
def test_each_platform_rule_fires_at_its_line(text, line, code, severity):
    assert (line, code, severity) in codes(run(text))


def test_the_allowed_list_is_an_error_in_prod_only():
    text = "FROM docker.io/library/alpine:3.20\nUSER 1\n"
    assert (1, "platform.base-not-allowed", "warning") in codes(run(text, environment_kind="dev"))
    assert (1, "platform.base-not-allowed", "error") in codes(run(text, environment_kind="prod"))


def test_bases_allowed_outside_prod_only():
    allowed = [*ALLOWED, lint.AllowedImage("platform/debug", "1", allowed_in_prod=False)]
    text = "FROM platform/debug:1\nUSER 1\n"
    dev = lint.lint(text, allowed=allowed, environment_kind="dev")
    prod = lint.lint(text, allowed=allowed, environment_kind="prod")
    assert (1, "platform.base-not-allowed", "info") in codes(dev)
    assert (1, "platform.base-not-allowed", "error") in codes(prod)


def test_stages_registry_host_and_args_are_understood(settings):
    settings.REGISTRY_HOST = "registry.example:5000"
    text = ("ARG JRE=17\nFROM registry.example:5000/platform/jre:${JRE} AS base\nFROM base\nUSER 10001\n"
            "HEALTHCHECK CMD [\"true\"]\n")
    findings = run(text, environment_kind="prod")
    assert [f for f in findings if f.source == "platform"] == []


def test_an_unresolved_build_argument_cannot_be_checked():
    findings = run("ARG BASE\nFROM $BASE\nUSER 1\n", environment_kind="prod")
    assert (2, "platform.base-unresolved", "error") in codes(findings)


def test_buildah_builder_allows_run():
    text = "FROM platform/jre:17\nRUN echo hi\nADD a.tgz /a/\nVOLUME /data\nUSER 1\n"
    assert {f.code for f in run(text, builder="buildah") if f.severity == "error"} == set()
    assert {f.code for f in run(text) if f.severity == "error"} == {"platform.run-needs-buildah",
                                                                     "platform.add-archive"}


def test_too_large_is_an_error_not_a_crash():
    findings = run("FROM platform/jre:17\n" + "# x\n" * 20000)
    assert [(f.line, f.code) for f in findings] == [(1, "platform.too-large")]


def test_missing_hadolint_is_an_error_finding(settings):
    settings.HADOLINT_BINARY = "/nonexistent/hadolint"
    findings = run(GOOD)
    assert [(f.code, f.severity) for f in findings] == [("platform.hadolint-missing", "error")]


def test_a_hanging_hadolint_times_out(settings, tmp_path, monkeypatch):
    slow = tmp_path / "hadolint"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    settings.HADOLINT_BINARY = str(slow)
    monkeypatch.setattr(lint, "HADOLINT_TIMEOUT_SECONDS", 0.5)
    assert "platform.hadolint-timeout" in {f.code for f in run(GOOD)}


def test_garbage_output_from_hadolint_is_an_error(settings, tmp_path):
    bad = tmp_path / "hadolint"
    bad.write_text("#!/bin/sh\necho not json\n")
    bad.chmod(0o755)
    settings.HADOLINT_BINARY = str(bad)
    assert "platform.hadolint-failed" in {f.code for f in run(GOOD)}


def test_instructions_raise_on_the_first_problem():
    with pytest.raises(parse.DockerfileSyntaxError) as caught:
        parse.instructions("FROM a:1\nUSER 1\nFROOM b\n")
    assert caught.value.line == 3
    ins = parse.instructions('FROM a:1\nCOPY --chown=1:2 app.jar \\\n  /app/\nCMD ["java", "-jar"]\n')
    assert [(i.keyword, i.line, i.end_line) for i in ins] == [("FROM", 1, 1), ("COPY", 2, 3), ("CMD", 4, 4)]
    assert ins[1].flags == {"chown": "1:2"} and ins[2].exec_form() == ["java", "-jar"]


def test_heredocs_are_refused_once():
    findings = run("FROM platform/jre:17\nRUN <<EOF\necho hi\nEOF\nUSER 1\n", builder="buildah")
    parse_errors = [f for f in findings if f.source == "parser"]
    assert [(f.line, f.code) for f in parse_errors] == [(2, "parse")]


_alphabet = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_lines = st.sampled_from(["FROM platform/jre:17", "USER 1", "RUN x", "COPY a b", "FROM", "ARG A=$B", "\\",
                          "HEALTHCHECK", "ENV A=\"", "CMD [\"a\"", "FROM x AS y", "FROM y", "# c"])


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(_lines, st.text(_alphabet, max_size=40)), max_size=12))
def test_lint_never_raises(lines):
    findings = run("\n".join(lines))
    assert all(f.severity in lint.SEVERITIES and f.line >= 1 for f in findings)
