"""Small rough edges: the token page's curl example, the federated-resource form's
translatable examples."""
import re

import pytest
from django.utils.functional import Promise

pytestmark = pytest.mark.django_db


def test_the_new_token_page_shows_a_working_api_v1_call(personas, login, client):
    response = login(personas["developer"]).post("/tenants/acme/tokens/new/", {"name": "ci", "scope": "read",
                                                                             "expires_in_days": 30})
    html = response.content.decode()
    url = re.search(r'curl -H "Authorization: Bearer \$PAAS_TOKEN" http://testserver(/api/[^<\s]*)', html).group(1)
    assert url == "/api/v1/tenants/acme/"
    secret = response.context["plaintext"]
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200


def test_form_examples_are_translatable():
    from clusters.federation import forms

    for example in (forms.EXAMPLE_PLACEMENT, forms.EXAMPLE_OVERRIDES):
        assert isinstance(example, Promise)  # evaluated in the language of the request
        assert str(example).startswith("# ")
