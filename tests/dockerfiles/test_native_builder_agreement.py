"""Lint and the native builder (applications/oci) agree: what the templates write, the builder
plans; what the builder refuses, lint marks as an error at the same line, before any build."""
import pytest

from applications.dockerfiles import lint, templates

from .conftest import ALLOWED, IMAGES

oci = pytest.importorskip("applications.oci.dockerfile")


@pytest.mark.parametrize("stack", templates.STACKS)
def test_the_builder_plans_every_template(stack):
    text = templates.render(stack, {}, base_images=IMAGES[stack])
    plan = oci.plan(text)
    assert plan is not None


@pytest.mark.parametrize(("text", "line"), [
    ("FROM platform/jre:17\nUSER 10001\nRUN echo hi\n", 3),
    ("FROM platform/jre:17\nONBUILD COPY a /a\nUSER 10001\n", 2),
    ("FROM platform/jre:17 AS b\nFROM platform/jre:17\nCOPY --from=b /a /a\nUSER 10001\n", 3),
])
def test_what_the_builder_refuses_lint_marks_at_the_same_line(text, line):
    with pytest.raises(oci.UnsupportedInstruction) as refused:
        oci.plan(text)
    assert refused.value.line == line
    errors = {f.line for f in lint.lint(text, allowed=ALLOWED) if f.severity == "error" and f.source == "platform"}
    assert line in errors
