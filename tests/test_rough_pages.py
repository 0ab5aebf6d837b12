"""Small rough edges: the token page's curl example, the federated-resource form's
translatable examples."""
import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_new_token_page_shows_a_working_api_v1_call(personas, login, client):
    response = login(personas["developer"]).post("/tenants/acme/tokens/new/", {"name": "ci", "scope": "read",
                                                                             "expires_in_days": 30})
    html = response.content.decode()
    url = re.search(r'curl -H "Authorization: Bearer \$PAAS_TOKEN" http://testserver(/api/[^<\s]*)', html).group(1)
    assert url == "/api/v1/tenants/acme/"
    secret = response.context["plaintext"]
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200


def test_form_examples_are_translated():
    from django.utils import translation

    from clusters.federation import skeletons

    for example in (skeletons.placement_start, skeletons.overrides_start):
        with translation.override("en"):
            english = example()
        with translation.override("zh-hans"):
            chinese = example()
        assert english.startswith("# ") and chinese.startswith("# ")
        assert chinese != english  # the prose is in the reader's language, the YAML stays as typed
        assert "cells: [cell-a" in chinese or "clusters: [my-cluster]" in chinese
