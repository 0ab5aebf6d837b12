"""Simplified Chinese: pages follow Accept-Language and the language switch, the
shipped catalogues are complete, and the compiled .mo files match their .po sources."""
import ast
import gettext as gnu_gettext
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
DOMAINS = ["django", "djangojs"]
PLACEHOLDER_RE = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def content(response) -> str:
    return response.content.decode()


# --- pages ------------------------------------------------------------------

@pytest.mark.parametrize("accept", ["zh-CN", "zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans", "zh"])
def test_accept_language_picks_simplified_chinese(accept):
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE=accept)
    assert translation.get_language_from_request(request) == "zh-hans"


def test_english_stays_the_default():
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE="de-DE")
    assert translation.get_language_from_request(request) == "en"


def test_dashboard_navigation_in_chinese(personas, login):
    client = login(personas["owner"])
    page = content(client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE="zh-CN"))
    assert '<html lang="zh-hans">' in page
    for label in ["租户", "仪表盘", "审计日志", "集群", "发布", "退出登录"]:
        assert label in page, label
    for english in ["Tenants</a>", "Dashboard</a>", "Audit trail</a>", "Sign out</button>"]:
        assert english not in page, english
    # The toast label is interpolated by notifications.js: the placeholder must survive translation.
    assert 'data-tenant-label="租户 %(tenant)s"' in page


def test_tenant_pages_in_chinese(personas, login):
    client = login(personas["owner"])
    detail = content(client.get("/tenants/acme/", HTTP_ACCEPT_LANGUAGE="zh-CN"))
    assert "新建环境" in detail and "生产" in detail and "成员" in detail and "配额" in detail
    assert "New environment" not in detail and "Members</a>" not in detail
    members = content(client.get("/tenants/acme/members/", HTTP_ACCEPT_LANGUAGE="zh-CN"))
    assert "邀请成员" in members and "审批人" in members
    assert "Invite a member" not in members


def test_same_pages_stay_english_without_the_header(personas, login):
    page = content(login(personas["owner"]).get(reverse("dashboard")))
    assert "Tenants</a>" in page and "租户" not in page


def test_service_errors_are_translated(personas, login):
    client = login(personas["owner"])
    # Inviting an existing member is a Conflict raised by the service, shown in the form.
    response = client.post("/tenants/acme/members/invite/", {"user": "viewer", "role": "viewer"},
                           HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code in (400, 409)
    assert "viewer 已是 Acme Payments 的成员。" in content(response)


def test_language_switch_sets_chinese_for_later_requests(personas, login):
    client = login(personas["owner"])
    page = content(client.get(reverse("dashboard")))
    assert f'action="{reverse("set_language")}"' in page and 'value="zh-hans"' in page
    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/tenants/"})
    assert response.status_code == 302 and response["Location"] == "/tenants/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    page = content(client.get("/tenants/"))
    assert '<html lang="zh-hans">' in page and "租户" in page and "Tenants</a>" not in page
    # and back again
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Tenants</a>" in content(client.get("/tenants/"))


def test_language_switch_works_before_sign_in():
    client = Client()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/accounts/login/"})
    page = content(client.get(reverse("login")))
    assert "登录" in page and "Use your platform account to continue." not in page


def test_js_catalogue_translates_notification_labels():
    source = (Path(settings.BASE_DIR) / "static" / "js" / "notifications.js").read_text()
    msgids = set(re.findall(r'gettext\("([^"]+)"\)', source))
    assert {"Tenant updated", "Notification", "Tenant %(tenant)s"} <= msgids
    response = Client().get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert response.status_code == 200
    match = re.search(r"const newcatalog = (\{.*?\});\n", content(response), re.S)
    assert match, "catalogue missing from /jsi18n/"
    catalog = json.loads(match.group(1))
    for msgid in msgids:
        assert catalog.get(msgid) and catalog[msgid] != msgid, msgid
    assert catalog["Tenant updated"] == "租户已更新"
    assert catalog["Tenant %(tenant)s"] == "租户 %(tenant)s"


# --- catalogues -------------------------------------------------------------

def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: msgid, msgid_plural, msgstr (list), msgctxt, flags."""
    entries, entry, field = [], None, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if entry is not None:
                entries.append(entry)
            entry, field = None, None
            continue
        if entry is None:
            entry = {"msgid": "", "msgid_plural": None, "msgstr": [], "msgctxt": None, "flags": set()}
        if line.startswith("#,"):
            entry["flags"] |= {f.strip() for f in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            value = ast.literal_eval(line)
            if field == "msgstr":
                entry["msgstr"][-1] += value
            else:
                entry[field] += value
        else:
            keyword, _, value = line.partition(" ")
            value = ast.literal_eval(value)
            if keyword.startswith("msgstr"):
                field = "msgstr"
                entry["msgstr"].append(value)
            else:
                field = keyword
                entry[field] = value
    return entries


def load_mo(path: Path) -> dict:
    with path.open("rb") as fh:
        return gnu_gettext.GNUTranslations(fh)._catalog


def messages(domain):
    return [e for e in parse_po(LOCALE_DIR / f"{domain}.po") if e["msgid"]]


@pytest.mark.parametrize("domain", DOMAINS)
def test_catalogue_is_complete(domain):
    entries = messages(domain)
    assert entries
    fuzzy = [e["msgid"] for e in parse_po(LOCALE_DIR / f"{domain}.po") if "fuzzy" in e["flags"]]
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"])]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    assert not untranslated, f"untranslated entries: {untranslated}"
    header = parse_po(LOCALE_DIR / f"{domain}.po")[0]["msgstr"][0]
    assert "Plural-Forms: nplurals=1; plural=0;" in header and "charset=UTF-8" in header


@pytest.mark.parametrize("domain", DOMAINS)
def test_translations_keep_placeholders(domain):
    for e in messages(domain):
        expected = sorted(PLACEHOLDER_RE.findall(e["msgid"]))
        for msgstr in e["msgstr"]:
            assert sorted(PLACEHOLDER_RE.findall(msgstr)) == expected, e["msgid"]
            assert re.findall(r"</?\w+", msgstr) == re.findall(r"</?\w+", e["msgid"]), e["msgid"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_compiled_catalogue_matches_source(domain):
    """A .po edited without running compilemessages ships a stale .mo: fail."""
    compiled = load_mo(LOCALE_DIR / f"{domain}.mo")
    expected = {}
    for e in messages(domain):
        key = f"{e['msgctxt']}\x04{e['msgid']}" if e["msgctxt"] else e["msgid"]
        if e["msgid_plural"]:
            expected.update({(key, n): s for n, s in enumerate(e["msgstr"])})
        else:
            expected[key] = e["msgstr"][0]
    compiled = {k: v for k, v in compiled.items() if k != ""}
    assert compiled == expected, f"{domain}.mo is stale: run compilemessages"


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext (msgfmt) not installed")
@pytest.mark.parametrize("domain", DOMAINS)
def test_msgfmt_statistics_and_fresh_build(domain, tmp_path):
    po = LOCALE_DIR / f"{domain}.po"
    fresh = tmp_path / f"{domain}.mo"
    result = subprocess.run([shutil.which("msgfmt"), "--check", "--statistics", "-o", str(fresh), str(po)],
                            capture_output=True, text=True, env={"LC_ALL": "C"})
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr
    assert re.fullmatch(r"\d+ translated messages?\.", result.stderr.strip()), result.stderr
    shipped = LOCALE_DIR / f"{domain}.mo"
    if fresh.read_bytes() != shipped.read_bytes():
        # Another gettext version may lay the file out differently; the content must still agree.
        assert load_mo(fresh) == load_mo(shipped), f"{domain}.mo is stale: run compilemessages"


def test_quota_request_events_have_translated_toast_labels(personas, tenant, monkeypatch,
                                                           django_capture_on_commit_callbacks):
    """Every live event a quota request emits gets a named toast, in Chinese too (not "Notification")."""
    from paas.actors import Actor
    from tenants import quota_requests as qr
    from tenants.models import Quota

    sent = []
    monkeypatch.setattr("paas.realtime.emit._send", lambda group, message: sent.append(message["payload"]["type"]))
    owner, operator = Actor.for_user(personas["owner"]), Actor.for_user(personas["operator"])
    for env, decide in [("dev", "approve"), ("test", "reject"), ("pre", "cancel")]:
        environment = tenant.environments.get(slug=env)
        pods = Quota.objects.get(environment=environment).pods + 1
        with django_capture_on_commit_callbacks(execute=True):  # live events go out after commit
            request = qr.quota_request_create(actor=owner, environment=environment, reason="load test", pods=pods)
            if decide == "cancel":
                qr.quota_request_cancel(actor=owner, request=request)
            else:
                getattr(qr, f"quota_request_{decide}")(actor=operator, request=request, comment="no")
    # Approving also emits quota.updated (the quota changes through quota_update); it is checked too.
    assert set(sent) - {"quota.updated"} == {"quota_request.created", "quota_request.approved",
                                             "quota_request.rejected", "quota_request.cancelled"}
    source = (Path(settings.BASE_DIR) / "static" / "js" / "notifications.js").read_text()
    labels = dict(re.findall(r'"([\w.]+)": gettext\("([^"]+)"\)', source))
    js_catalog = load_mo(LOCALE_DIR / "djangojs.mo")
    for kind in sorted(set(sent)):
        assert kind in labels, kind
        assert js_catalog.get(labels[kind], labels[kind]) != labels[kind], labels[kind]


def test_pending_quota_request_is_not_pending_propagation():
    """Same English word, two meanings: a request awaits a decision, a resource awaits propagation."""
    from clusters.federation.models import Propagation
    from tenants.models import QuotaRequest

    with translation.override("zh-hans"):
        assert str(QuotaRequest.State.PENDING.label) == "待审批"
        assert str(dict(Propagation.State.choices)["pending"]) == "待下发"
