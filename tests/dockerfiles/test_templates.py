"""Stack templates: each renders deterministically and lints clean (0 errors) in prod with the
default base images; bad form values are refused field by field."""
import pytest

from applications.dockerfiles import lint, parse, templates
from applications.dockerfiles.templates import TemplateFormError

from .conftest import ALLOWED, IMAGES


@pytest.mark.parametrize("stack", templates.STACKS)
def test_every_template_renders_and_lints_clean_in_prod(stack):
    text = templates.render(stack, {}, base_images=IMAGES[stack])
    assert text == templates.render(stack, {}, base_images=IMAGES[stack])  # deterministic
    keywords = {i.keyword for i in parse.instructions(text)}
    assert keywords <= parse.TEMPLATE_KEYWORDS and "RUN" not in keywords
    findings = lint.lint(text, environment_kind="prod", allowed=ALLOWED)
    assert [f for f in findings if f.severity == "error"] == []
    assert f"FROM {IMAGES[stack][0]}" in text and "USER 10001" in text


@pytest.mark.parametrize(("stack", "form", "expected"), [
    ("java", {"jvm_options": "-Xmx512m", "ports": [8080, 8443]},
     ['JAVA_TOOL_OPTIONS="-Xmx512m"', "EXPOSE 8080 8443", 'ENTRYPOINT ["java", "-jar", "/app/app.jar"]']),
    ("go", {"artifact": "payments", "gomaxprocs": 2, "gomemlimit": "450MiB",
            "healthcheck": {"kind": "command", "command": ["/app/payments", "-healthcheck"]}},
     ['GOMAXPROCS="2"', 'GOMEMLIMIT="450MiB"', 'CMD ["/app/payments", "-healthcheck"]', 'ENTRYPOINT ["/app/payments"]']),
    ("python", {"artifact": "svc.pyz"}, ['ENTRYPOINT ["python", "/app/svc.pyz"]']),
    ("python", {"artifact": "src.tar.gz", "module": "svc.main", "python_optimize": 1},
     ["ADD src.tar.gz /app/", 'PYTHONOPTIMIZE="1"', 'ENTRYPOINT ["python", "-m", "svc.main"]']),
    ("node", {"artifact": "app.tgz", "main": "dist/index.js", "node_options": "--max-old-space-size=384"},
     ["ADD app.tgz /app/", 'NODE_OPTIONS="--max-old-space-size=384"', 'ENTRYPOINT ["node", "/app/dist/index.js"]']),
    ("static", {"user": "101:101", "healthcheck": {"kind": "none"}}, ["USER 101:101", "# No HEALTHCHECK"]),
    ("java", {"env": [{"name": "GREETING", "value": 'say "$hi"'}]}, ['GREETING="say \\"\\$hi\\""']),
])
def test_form_values_reach_the_text(stack, form, expected):
    text = templates.render(stack, form, base_images=IMAGES[stack])
    for fragment in expected:
        assert fragment in text
    # An archive is unpacked by ADD: the buildah builder does that, the native one refuses it.
    archive = form.get("artifact", "").endswith((".tar.gz", ".tgz"))
    errors = {f.code for f in lint.lint(text, allowed=ALLOWED) if f.severity == "error"}
    assert errors == ({"platform.add-archive"} if archive else set())
    assert not [f for f in lint.lint(text, allowed=ALLOWED, builder="buildah") if f.severity == "error"]


@pytest.mark.parametrize(("stack", "form", "field"), [
    ("java", {"base_image": "ubuntu:22.04"}, "base_image"),
    ("java", {"artifact": "app.war"}, "artifact"),
    ("java", {"artifact": "../etc/passwd"}, "artifact"),
    ("java", {"ports": [80]}, "ports"),
    ("java", {"ports": ["8080"]}, "ports"),
    ("java", {"ports": [8080, 8080]}, "ports"),
    ("java", {"user": "root"}, "user"),
    ("java", {"user": "0"}, "user"),
    ("java", {"env": [{"name": "1BAD", "value": "x"}]}, "env"),
    ("java", {"env": [{"name": "A", "value": "line\nbreak"}]}, "env"),
    ("java", {"jvm_options": "x" * 1001}, "jvm_options"),
    ("java", {"surprise": 1}, "surprise"),
    ("go", {"healthcheck": {"kind": "http", "path": "/healthz"}}, "healthcheck"),
    ("go", {"gomaxprocs": True}, "gomaxprocs"),
    ("go", {"gomemlimit": "lots"}, "gomemlimit"),
    ("python", {"module": "not a module"}, "module"),
    ("node", {"main": "/etc/passwd"}, "main"),
    ("static", {"healthcheck": {"kind": "http", "path": "/'; rm -rf /"}}, "healthcheck"),
    ("static", {"healthcheck": {"kind": "http", "interval": 1}}, "healthcheck"),
])
def test_bad_values_name_their_field(stack, form, field):
    with pytest.raises(TemplateFormError) as caught:
        templates.render(stack, form, base_images=IMAGES[stack])
    assert field in caught.value.errors
    assert caught.value.field == "form"


def test_unknown_stack_and_no_base_image():
    with pytest.raises(TemplateFormError) as caught:
        templates.render("cobol", {}, base_images=[])
    assert "stack" in caught.value.errors
    with pytest.raises(TemplateFormError) as caught:
        templates.render("java", {}, base_images=[])
    assert "ask a platform operator" in caught.value.errors["base_image"][0]


def test_fields_describe_defaults_and_choices():
    fields = {f["name"]: f for f in templates.fields_for("java", IMAGES["java"])}
    assert fields["base_image"]["choices"] == ["platform/jre:17"]
    assert fields["ports"]["default"] == [8080] and fields["user"]["default"] == "10001"
    assert fields["healthcheck"]["default"]["port"] == 8080
    assert templates.validate("java", {}, base_images=IMAGES["java"])["artifact"] == "app.jar"


def test_default_base_images_cover_every_stack():
    assert {d["stack"] for d in templates.default_base_images()} == set(templates.STACKS)
    references = {f"{d['name']}:{d['tag']}" for d in templates.default_base_images()}
    assert references == {"platform/jre:17", "platform/distroless-static:1", "platform/python:3.12",
                          "platform/node:20", "platform/nginx:1.27"}


def test_comments_do_not_depend_on_the_language():
    from django.utils import translation

    with translation.override("zh-hans"):
        chinese = templates.render("java", {}, base_images=IMAGES["java"])
    assert chinese == templates.render("java", {}, base_images=IMAGES["java"])
