"""The Dockerfile interpreter, without a registry: plan (what to build) and apply (the config
and the layers' files), with Docker's semantics where they show in the image."""
import gzip
import io
import tarfile

import pytest

from applications.oci import dockerfile as df
from applications.oci.context import BuildContext
from applications.oci.shellwords import expand, split_words

BASE = {"architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/bin:/bin", "JAVA_HOME=/opt/java"], "Cmd": ["java", "-version"],
                   "WorkingDir": "/app", "Labels": {"base": "yes"}}}
USERS = ({"root": (0, 0), "app": (10001, 10001), "web": (33, 34)}, {"root": 0, "app": 10001, "www": 34})


def build(text, files=None, base=None, build_args=None, artifact=None, artifact_name=None):
    plan = df.plan(text, build_args)
    context = BuildContext(files=files or {}, artifact=artifact, artifact_name=artifact_name)
    return plan, df.apply(plan, base if base is not None else BASE, context, lookup_ids=lambda: USERS)


def paths(step):
    return {e.path: e for e in step.entries}


def test_arg_before_from_and_build_args():
    plan = df.plan("ARG BASE=platform/jre\nARG TAG=17\nFROM ${BASE}:$TAG\n")
    assert plan.base == "platform/jre:17" and plan.base_line == 3
    assert df.plan("ARG TAG=17\nFROM platform/jre:${TAG}\n", {"TAG": "21"}).base == "platform/jre:21"
    assert df.plan("FROM scratch\n").base is None
    with pytest.raises(df.DockerfileError, match="line 1: ENV before the first FROM"):
        df.plan("ENV A=1\nFROM scratch\n")
    with pytest.raises(df.DockerfileError, match="no FROM"):
        df.plan("# just a comment\n")
    with pytest.raises(df.DockerfileError, match="line 2: FROM names no image"):
        df.plan("ARG X\nFROM $X\n")


@pytest.mark.parametrize("text, line, words", [
    ("FROM platform/jre:17\nCOPY a /a\nRUN echo hi \\\n  there\n", 3, "RUN needs a container"),
    ("FROM platform/jre:17\n\n\nrun apt-get update\n", 4, "BUILDER=buildah"),
    ("FROM platform/jre:17\nONBUILD COPY . /\n", 2, "ONBUILD"),
    ("FROM platform/jre:17\nFROBNICATE x\n", 2, "unknown instruction FROBNICATE"),
    ("FROM golang AS build\nFROM platform/jre:17\nCOPY --from=build /out /app\n", 3, "COPY --from=build"),
    ("FROM platform/jre:17\nCOPY <<EOF /x\nhello\nEOF\n", 2, "here-document"),
    ("FROM --platform=linux/arm64 platform/jre:17\n", 1, "linux/amd64"),
    ("FROM platform/jre:17\nADD --checksum=sha256:abc https://x/y /y\n", 2, "remote sources"),
])
def test_refused_naming_the_line(text, line, words):
    with pytest.raises(df.UnsupportedInstruction) as caught:
        df.plan(text)
    assert caught.value.line == line
    assert f"line {line}:" in str(caught.value) and words in str(caught.value)


def test_trivial_multi_stage_builds_the_final_stage_and_its_ancestors():
    text = ("FROM platform/jre:17 AS runtime\nENV A=1\n"
            "FROM golang:1.22 AS unused\nRUN go build\n"
            "FROM runtime\nENV B=2\n")
    plan = df.plan(text)
    assert plan.base == "platform/jre:17" and [s.line for s in plan.stages] == [1, 5]
    assert plan.skipped_stages == ["unused"]
    spec = df.apply(plan, BASE, BuildContext())
    assert "A=1" in spec.config["Env"] and "B=2" in spec.config["Env"]


def test_config_instructions():
    _, spec = build(
        "FROM platform/jre:17\n"
        "ARG VERSION=1.0\n"
        "ENV APP_HOME=/srv/app \\\n    GREETING=\"hello world\" JAVA_HOME=/opt/jdk\n"
        "ENV LEGACY value with spaces\n"
        "LABEL org.opencontainers.image.version=$VERSION \"team\"=payments\n"
        "WORKDIR $APP_HOME\nWORKDIR sub\n"
        "USER app:app\n"
        "EXPOSE 8080 9000-9002/udp\n"
        "STOPSIGNAL SIGTERM\n"
        "VOLUME /data\n"
        "MAINTAINER ops@example.com\n"
        "CMD java -jar app.jar\n", build_args={"VERSION": "2.5", "UNUSED": "x"})
    config = spec.config
    assert config["Env"] == ["PATH=/usr/bin:/bin", "JAVA_HOME=/opt/jdk", "APP_HOME=/srv/app",
                             "GREETING=hello world", "LEGACY=value with spaces"]
    assert config["Labels"] == {"base": "yes", "org.opencontainers.image.version": "2.5", "team": "payments"}
    assert config["WorkingDir"] == "/srv/app/sub"
    assert config["User"] == "app:app"
    assert config["ExposedPorts"] == {"8080/tcp": {}, "9000/udp": {}, "9001/udp": {}, "9002/udp": {}}
    assert config["StopSignal"] == "SIGTERM" and config["Volumes"] == {"/data": {}}
    assert config["Cmd"] == ["/bin/sh", "-c", "java -jar app.jar"]
    assert spec.author == "ops@example.com"
    assert spec.unused_build_args == ["UNUSED"]
    assert spec.layers == []
    assert all(h.get("empty_layer") for h in spec.history)
    assert spec.history[1]["created_by"].startswith("ENV APP_HOME=/srv/app")
    assert "VERSION" not in " ".join(config["Env"])  # ARG values stay out of the image's env


def test_entrypoint_resets_an_inherited_cmd_but_not_one_set_here():
    _, spec = build('FROM x\nENTRYPOINT ["java", "-jar", "/app/app.jar"]\n')
    assert spec.config["Entrypoint"] == ["java", "-jar", "/app/app.jar"] and "Cmd" not in spec.config
    _, spec = build('FROM x\nCMD ["--port", "8080"]\nENTRYPOINT ["server"]\n')
    assert spec.config["Cmd"] == ["--port", "8080"]
    _, spec = build('FROM x\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nENTRYPOINT exec server\n')
    assert spec.config["Entrypoint"] == ["/bin/bash", "-o", "pipefail", "-c", "exec server"]
    _, spec = build("FROM x\nCMD [not json\n")
    assert spec.config["Cmd"] == ["/bin/sh", "-c", "[not json"]


def test_healthcheck_like_docker():
    _, spec = build("FROM x\nHEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --retries=3 "
                    "CMD curl -f http://localhost:8080/ || exit 1\n")
    assert spec.config["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f http://localhost:8080/ || exit 1"], "Interval": 30_000_000_000,
        "Timeout": 90_000_000_000, "StartPeriod": 500_000_000, "Retries": 3}
    _, spec = build('FROM x\nHEALTHCHECK CMD ["/bin/check", "--quick"]\n')
    assert spec.config["Healthcheck"] == {"Test": ["CMD", "/bin/check", "--quick"]}
    _, spec = build("FROM x\nHEALTHCHECK NONE\n")
    assert spec.config["Healthcheck"] == {"Test": ["NONE"]}
    for bad, words in (("HEALTHCHECK --interval=soon CMD true", "not a duration"),
                       ("HEALTHCHECK --retries=0 CMD true", "retries"),
                       ("HEALTHCHECK --bogus=1 CMD true", "--bogus"),
                       ("HEALTHCHECK true", "needs CMD")):
        with pytest.raises(df.DockerfileError, match=words):
            build(f"FROM x\n{bad}\n")


def test_env_beats_arg_and_substitution_forms():
    _, spec = build("FROM x\nARG NAME=from-arg\nENV NAME=from-env\nLABEL a=$NAME b=${MISSING:-fallback} "
                    "c=${NAME:+set} d='$NAME' e=\"$NAME\" f=\\$NAME\n")
    assert spec.config["Labels"] | {} == {"base": "yes", "a": "from-env", "b": "fallback", "c": "set",
                                          "d": "$NAME", "e": "from-env", "f": "$NAME"}
    with pytest.raises(df.DockerfileError, match="line 2: .*REQUIRED"):
        build("FROM x\nLABEL a=${REQUIRED:?must be set}\n")


def test_copy_files_directories_globs_and_dot():
    files = {"config/application.yml": b"a: 1", "config/logback.xml": b"<x/>", "target/app-1.0.jar": b"jar",
             "README": b"read me"}
    _, spec = build("FROM x\n"
                    "COPY target/*.jar app.jar\n"  # one glob match: to a file, as BuildKit allows
                    "COPY config /etc/app\n"  # a directory: its contents
                    "COPY README config/ docs/\n"  # several sources into a directory (relative: WORKDIR)
                    "COPY . /everything/\n", files=files)
    one, two, three, four = spec.layers
    assert list(paths(one)) == ["/app/app.jar"] and paths(one)["/app/app.jar"].source == b"jar"
    assert sorted(paths(two)) == ["/etc/app/application.yml", "/etc/app/logback.xml"]
    assert sorted(paths(three)) == ["/app/docs/README", "/app/docs/application.yml", "/app/docs/logback.xml"]
    assert sorted(paths(four)) == ["/everything/README", "/everything/config/application.yml",
                                   "/everything/config/logback.xml", "/everything/target/app-1.0.jar"]
    assert [h["created_by"] for h in spec.history] == [
        "COPY target/*.jar app.jar", "COPY config /etc/app", "COPY README config/ docs/", "COPY . /everything/"]
    assert not any(h.get("empty_layer") for h in spec.history)


def test_copy_destination_rules():
    files = {"a.txt": b"a", "b.txt": b"b"}
    _, spec = build("FROM x\nWORKDIR /srv\nCOPY a.txt .\nCOPY a.txt /srv\nCOPY a.txt /opt/renamed\n", files=files)
    assert [list(paths(s)) for s in spec.layers] == [["/srv/a.txt"], ["/srv/a.txt"], ["/opt/renamed"]]
    with pytest.raises(df.DockerfileError, match="line 2: COPY with more than one source file needs a destination"):
        build("FROM x\nCOPY *.txt /opt/one\n", files=files)
    with pytest.raises(df.DockerfileError, match=r"line 2: COPY: 'missing.jar' is not in the build context "
                                                 r"\(the build context has: a.txt, b.txt\)"):
        build("FROM x\nCOPY missing.jar /app/\n", files=files)
    with pytest.raises(df.DockerfileError, match="outside the build context"):
        build("FROM x\nCOPY ../../etc/passwd /x\n", files=files)
    with pytest.raises(df.DockerfileError, match="at least one source"):
        build("FROM x\nCOPY a.txt\n", files=files)


def test_copy_chown_and_chmod(tmp_path):
    files = {"run.sh": b"echo", "lib/a.jar": b"a"}
    _, spec = build("FROM x\n"
                    "COPY --chown=app run.sh /app/bin/\n"
                    "COPY --chown=web:www --chmod=0750 lib /srv/lib\n"
                    "COPY --chown=1234 run.sh /n\n"
                    "COPY --chown=1234:55 run.sh /m\n", files=files)
    one, two, three, four = (paths(s) for s in spec.layers)
    assert (one["/app/bin/run.sh"].uid, one["/app/bin/run.sh"].gid) == (10001, 10001)
    assert (one["/app/bin"].uid, one["/app/bin"].is_dir) == (10001, True)  # the destination it creates
    assert (two["/srv/lib/a.jar"].uid, two["/srv/lib/a.jar"].gid, two["/srv/lib/a.jar"].mode) == (33, 34, 0o750)
    assert (three["/n"].uid, three["/n"].gid) == (1234, 1234)
    assert (four["/m"].uid, four["/m"].gid) == (1234, 55)
    with pytest.raises(df.DockerfileError, match="line 2: --chown=ghost: the base image's /etc/passwd has no user"):
        build("FROM x\nCOPY --chown=ghost run.sh /x\n", files=files)
    with pytest.raises(df.DockerfileError, match="has no group 'nope'"):
        build("FROM x\nCOPY --chown=app:nope run.sh /x\n", files=files)
    with pytest.raises(df.DockerfileError, match="octal mode"):
        build("FROM x\nCOPY --chmod=u+x run.sh /x\n", files=files)


def _tar_gz() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo("x")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return gzip.compress(out.getvalue())


def test_add_like_copy_but_no_remote_and_no_unpacking(tmp_path):
    artifact = tmp_path / "upload-1234"
    artifact.write_bytes(b"PK\x03\x04 a jar is a zip, copied as it is")
    _, spec = build("FROM x\nADD app.jar /app/\n", artifact=artifact, artifact_name="app.jar")
    assert paths(spec.layers[0])["/app/app.jar"].source == artifact
    with pytest.raises(df.UnsupportedInstruction, match="line 2: ADD https://example.com/a.jar: remote"):
        build("FROM x\nADD https://example.com/a.jar /app/\n")
    with pytest.raises(df.UnsupportedInstruction, match="line 2: ADD site.tar.gz: Docker would unpack"):
        build("FROM x\nADD site.tar.gz /srv/\n", files={"site.tar.gz": _tar_gz()})
    _, spec = build("FROM x\nCOPY site.tar.gz /srv/\n", files={"site.tar.gz": _tar_gz()})
    assert "/srv/site.tar.gz" in paths(spec.layers[0])


def test_scratch_gets_a_default_path_and_onbuild_bases_are_refused():
    plan = df.plan("FROM scratch\nCOPY a /a\n")
    spec = df.apply(plan, {}, BuildContext(files={"a": b"1"}))
    assert spec.config["Env"] == [f"PATH={df.DEFAULT_PATH}"]
    with pytest.raises(df.UnsupportedInstruction, match="ONBUILD triggers"):
        df.apply(df.plan("FROM x\n"), {"config": {"OnBuild": ["RUN make"]}}, BuildContext())


def test_chown_names_need_a_lookup():
    plan = df.plan("FROM x\nCOPY --chown=app a /a\n")
    with pytest.raises(df.DockerfileError, match="numeric ids"):
        df.apply(plan, BASE, BuildContext(files={"a": b"1"}))


def test_words_and_expansion():
    assert split_words('a "b c" d\\ e \'f g\'') == ["a", '"b c"', "d\\ e", "'f g'"]
    assert expand('"$A-${B}"\\$C', {"A": "1", "B": "2"}) == "1-2$C"
    assert expand("${A-x}${B-y}${A:-z}", {"A": ""}) == "yz"
    assert expand("${A+set}${B+set}", {"A": ""}) == "set"


def test_escape_directive_and_nul_refused():
    with pytest.raises(df.DockerfileError, match="escape parser directive"):
        df.plan("# escape=`\nFROM x\n")
    with pytest.raises(df.DockerfileError, match="NUL"):
        df.plan("FROM x\x00\n")


def test_hostile_substitutions_fail_cleanly():
    deep = "LABEL a=" + "${A:-" * 5000 + "x" + "}" * 5000
    with pytest.raises(df.DockerfileError, match="line 2: variable substitutions nested more than 32 deep"):
        build(f"FROM x\n{deep}\n")
    with pytest.raises(df.DockerfileError, match="missing '}'"):
        build("FROM x\nLABEL a=${A\n")
    with pytest.raises(df.DockerfileError, match="unmatched"):
        build("FROM x\nLABEL a=\"open\n")
    with pytest.raises(df.DockerfileError, match="EXPOSE 1-65535"):
        build("FROM x\nEXPOSE 1-65535\n")
